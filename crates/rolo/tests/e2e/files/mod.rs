//! Contact files (vCard, CSV) over HTTP; included from contacts.rs.

pub mod http;
pub mod samples;
