//! Graph's two API versions. Both serve the same stored data; they differ in the shapes they
//! read and write (see `contact` and `projection`).

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ApiVersion {
    #[default]
    V1,
    Beta,
}

impl ApiVersion {
    /// The URL segment: `v1.0` or `beta`.
    pub fn segment(self) -> &'static str {
        match self {
            ApiVersion::V1 => "v1.0",
            ApiVersion::Beta => "beta",
        }
    }

    /// Matches a URL's version segment, ignoring case as Graph does.
    pub fn from_segment(s: &str) -> Option<ApiVersion> {
        if s.eq_ignore_ascii_case("v1.0") {
            Some(ApiVersion::V1)
        } else if s.eq_ignore_ascii_case("beta") {
            Some(ApiVersion::Beta)
        } else {
            None
        }
    }
}
