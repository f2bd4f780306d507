//! Photos. Real decoding decides what is an image (JPEG, PNG, GIF and BMP, as Graph accepts);
//! the uploaded bytes are kept untouched, and the standard square sizes are produced by real
//! resizing, keeping the aspect ratio and never upscaling.

use std::io::Cursor;

use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat, ImageReader, Limits};

/// The sizes Exchange serves (`48x48` ... `648x648`).
pub const STANDARD_SIZES: [u32; 9] = [48, 64, 96, 120, 240, 360, 432, 504, 648];

/// Largest width or height accepted, and the most memory one decode may take: a small file
/// that claims a huge canvas (a decompression bomb) is refused before it is expanded.
const MAX_DIMENSION: u32 = 10_000;
const MAX_DECODE_BYTES: u64 = 256 * 1024 * 1024;

/// An encoded image with what Graph reports about it.
#[derive(Clone, PartialEq, Eq)]
pub struct Photo {
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
    pub width: u32,
    pub height: u32,
}

impl std::fmt::Debug for Photo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Photo({} {}x{}, {} bytes)", self.content_type, self.width, self.height, self.bytes.len())
    }
}

impl Photo {
    /// The media etag: a CRC-32 of the bytes in hex, the shape Graph's `@odata.mediaEtag` has.
    pub fn etag(&self) -> String {
        format!("\"{:08X}\"", crc32fast::hash(&self.bytes))
    }
}

/// Why bytes were not accepted as a photo. The messages are shown to API clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaError {
    NotAnImage,
    UnsupportedFormat(String),
    Corrupt(String),
    TooLarge { width: u32, height: u32 },
}

impl std::fmt::Display for MediaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MediaError::NotAnImage => {
                f.write_str("The request body is not an image: JPEG, PNG, GIF and BMP are accepted.")
            }
            MediaError::UnsupportedFormat(fmt) => {
                write!(f, "The image format {fmt} is not supported: JPEG, PNG, GIF and BMP are accepted.")
            }
            MediaError::Corrupt(why) => write!(f, "The image could not be decoded: {why}"),
            MediaError::TooLarge { width, height } => {
                write!(f, "The image is {width}x{height} pixels; at most {MAX_DIMENSION}x{MAX_DIMENSION} is accepted.")
            }
        }
    }
}

impl std::error::Error for MediaError {}

fn mime(format: ImageFormat) -> Option<&'static str> {
    match format {
        ImageFormat::Jpeg => Some("image/jpeg"),
        ImageFormat::Png => Some("image/png"),
        ImageFormat::Gif => Some("image/gif"),
        ImageFormat::Bmp => Some("image/bmp"),
        _ => None,
    }
}

/// A decoded upload: the original, untouched, and the image to resize from.
pub struct Upload {
    pub original: Photo,
    image: DynamicImage,
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Upload({} {}x{})", self.original.content_type, self.original.width, self.original.height)
    }
}

/// A complete JPEG ends with the EOI marker, allowing trailing padding (an EOI inside an
/// embedded EXIF thumbnail does not count).
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let end = bytes.iter().rposition(|b| *b != 0x00 && !b.is_ascii_whitespace()).map_or(0, |i| i + 1);
    bytes[..end].ends_with(&[0xFF, 0xD9])
}

/// Decodes `bytes` completely (so a truncated file is refused) within the bomb limits.
pub fn decode(bytes: Vec<u8>) -> Result<Upload, MediaError> {
    let reader = ImageReader::new(Cursor::new(&bytes)).with_guessed_format().map_err(|_| MediaError::NotAnImage)?;
    let format = reader.format().ok_or(MediaError::NotAnImage)?;
    let content_type =
        mime(format).ok_or_else(|| MediaError::UnsupportedFormat(format!("{format:?}").to_uppercase()))?;
    let (width, height) = {
        let probe = ImageReader::with_format(Cursor::new(&bytes), format);
        probe.into_dimensions().map_err(|e| MediaError::Corrupt(e.to_string()))?
    };
    // The JPEG decoder pads a cut-off scan with grey; a complete file ends with EOI.
    if format == ImageFormat::Jpeg && !jpeg_is_complete(&bytes) {
        return Err(MediaError::Corrupt("the JPEG data is truncated".into()));
    }
    if width == 0 || height == 0 {
        return Err(MediaError::Corrupt("the image has no pixels".into()));
    }
    if width > MAX_DIMENSION || height > MAX_DIMENSION {
        return Err(MediaError::TooLarge { width, height });
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DIMENSION);
    limits.max_image_height = Some(MAX_DIMENSION);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    let mut reader = ImageReader::with_format(Cursor::new(&bytes), format);
    reader.limits(limits);
    let image = reader.decode().map_err(|e| MediaError::Corrupt(e.to_string()))?;
    Ok(Upload { original: Photo { bytes, content_type, width, height }, image })
}

/// The box-fitted dimensions of a `size`x`size` variant, or `None` when it would upscale.
pub fn fitted(width: u32, height: u32, size: u32) -> Option<(u32, u32)> {
    let longest = width.max(height);
    if longest < size {
        return None;
    }
    let scale = |d: u32| ((d as u64 * size as u64 + longest as u64 / 2) / longest as u64).max(1) as u32;
    Some((scale(width), scale(height)))
}

/// A standard size as it will be served, known from the original's dimensions alone, before
/// (or without) rendering it: photos store these at upload and render a size on its first read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Planned {
    pub size: u32,
    pub width: u32,
    pub height: u32,
    /// The size has the original's dimensions: it is served with the original's bytes.
    pub is_original: bool,
}

/// The standard sizes an image of `width`x`height` can fill (never upscaled), smallest first.
pub fn planned(width: u32, height: u32) -> Vec<Planned> {
    STANDARD_SIZES
        .into_iter()
        .filter_map(|size| {
            let (w, h) = fitted(width, height, size)?;
            Some(Planned { size, width: w, height: h, is_original: (w, h) == (width, height) })
        })
        .collect()
}

/// The media etag of a rendition not rendered yet: derived from the original's etag and the size,
/// so it is known at upload, stable, and changes whenever the original does.
pub fn rendition_etag(original_etag: &str, size: u32) -> String {
    format!("\"{:08X}\"", crc32fast::hash(format!("{original_etag}/{size}").as_bytes()))
}

/// Renders the `size` rendition of an original's bytes (decoded again, within the same limits),
/// as JPEG; a size with the original's dimensions is the original itself.
pub fn render(original: Vec<u8>, size: u32) -> Result<Photo, MediaError> {
    let upload = decode(original)?;
    let (w, h) = (upload.original.width, upload.original.height);
    let Some((vw, vh)) = fitted(w, h, size) else {
        return Err(MediaError::Corrupt(format!("a {w}x{h} image has no {size}x{size} rendition")));
    };
    if (vw, vh) == (w, h) {
        return Ok(upload.original);
    }
    encode_jpeg(&upload.image.resize_exact(vw, vh, FilterType::Triangle))
}

fn encode_jpeg(image: &DynamicImage) -> Result<Photo, MediaError> {
    let mut bytes = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 85);
    image.to_rgb8().write_with_encoder(encoder).map_err(|e| MediaError::Corrupt(e.to_string()))?;
    Ok(Photo { bytes, content_type: "image/jpeg", width: image.width(), height: image.height() })
}

impl Upload {
    /// The standard sizes this image can fill, each resized (aspect ratio kept) and encoded as
    /// JPEG, as Exchange serves them. A size equal to the original reuses the original bytes.
    pub fn variants(&self) -> Result<Vec<(u32, Photo)>, MediaError> {
        let (w, h) = (self.original.width, self.original.height);
        let mut out = Vec::new();
        // Largest first, each resized from the previous rendition rather than the original:
        // the same quality at a fraction of the work.
        let mut source: Option<DynamicImage> = None;
        for size in STANDARD_SIZES.into_iter().rev() {
            let Some((vw, vh)) = fitted(w, h, size) else { continue };
            if (vw, vh) == (w, h) {
                out.push((size, self.original.clone()));
                continue;
            }
            let from = source.as_ref().unwrap_or(&self.image);
            let resized = from.resize_exact(vw, vh, FilterType::Triangle);
            let mut bytes = Vec::new();
            let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 85);
            resized.to_rgb8().write_with_encoder(encoder).map_err(|e| MediaError::Corrupt(e.to_string()))?;
            out.push((size, Photo { bytes, content_type: "image/jpeg", width: vw, height: vh }));
            source = Some(resized);
        }
        out.reverse();
        Ok(out)
    }
}

/// Encodes a test pattern in `format` (used by tests and the benchmark to make real images).
pub fn sample(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 255 / width.max(1)) as u8, (y * 255 / height.max(1)) as u8, ((x ^ y) & 0xff) as u8])
    });
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(img).write_to(&mut out, format).expect("encoding a sample image");
    out.into_inner()
}

pub use image::ImageFormat as Format;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_accepted_format_decodes_and_keeps_its_bytes() {
        for (format, mime) in [
            (ImageFormat::Jpeg, "image/jpeg"),
            (ImageFormat::Png, "image/png"),
            (ImageFormat::Gif, "image/gif"),
            (ImageFormat::Bmp, "image/bmp"),
        ] {
            let bytes = sample(300, 200, format);
            let up = decode(bytes.clone()).unwrap();
            assert_eq!(up.original.bytes, bytes);
            assert_eq!(up.original.content_type, mime);
            assert_eq!((up.original.width, up.original.height), (300, 200));
            let sizes: Vec<(u32, u32, u32)> =
                up.variants().unwrap().iter().map(|(s, p)| (*s, p.width, p.height)).collect();
            assert_eq!(sizes, vec![(48, 48, 32), (64, 64, 43), (96, 96, 64), (120, 120, 80), (240, 240, 160)]);
        }
    }

    #[test]
    fn variants_are_real_jpegs_of_the_stated_size() {
        let up = decode(sample(640, 480, ImageFormat::Png)).unwrap();
        for (_, v) in up.variants().unwrap() {
            let again = decode(v.bytes.clone()).unwrap();
            assert_eq!(again.original.content_type, "image/jpeg");
            assert_eq!((again.original.width, again.original.height), (v.width, v.height));
        }
    }

    #[test]
    fn planned_sizes_match_what_render_makes() {
        let original = sample(640, 480, ImageFormat::Png);
        let plan = planned(640, 480);
        assert_eq!(plan.iter().map(|p| p.size).collect::<Vec<_>>(), vec![48, 64, 96, 120, 240, 360, 432, 504]);
        for p in &plan {
            let r = render(original.clone(), p.size).unwrap();
            assert_eq!((r.width, r.height, r.content_type), (p.width, p.height, "image/jpeg"), "{p:?}");
            assert!(!p.is_original);
        }
        let square = sample(96, 96, ImageFormat::Png);
        assert_eq!(
            planned(96, 96).last().copied(),
            Some(Planned { size: 96, width: 96, height: 96, is_original: true })
        );
        assert_eq!(render(square.clone(), 96).unwrap().bytes, square);
        assert!(render(square, 120).is_err());
        let (a, b) = (rendition_etag("\"0000ABCD\"", 48), rendition_etag("\"0000ABCD\"", 64));
        assert_ne!(a, b);
        assert_ne!(a, rendition_etag("\"0000ABCE\"", 48));
        assert!(a.len() == 10 && a.starts_with('"') && a.ends_with('"'));
    }

    #[test]
    fn garbage_truncated_and_bombs_are_refused() {
        assert_eq!(decode(b"hello world".to_vec()).unwrap_err(), MediaError::NotAnImage);
        for format in [ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::Gif, ImageFormat::Bmp] {
            let bytes = sample(200, 200, format);
            let cut = decode(bytes[..bytes.len() / 2].to_vec());
            assert!(matches!(cut, Err(MediaError::Corrupt(_))), "{format:?}: {cut:?}");
        }
        // A PNG header claiming 50000x50000 pixels.
        let mut png = sample(1, 1, ImageFormat::Png);
        png[16..20].copy_from_slice(&50_000u32.to_be_bytes());
        png[20..24].copy_from_slice(&50_000u32.to_be_bytes());
        assert!(matches!(decode(png).unwrap_err(), MediaError::TooLarge { .. } | MediaError::Corrupt(_)));
    }

    #[test]
    fn never_upscales_and_keeps_aspect() {
        assert_eq!(fitted(504, 504, 648), None);
        assert_eq!(fitted(504, 504, 504), Some((504, 504)));
        assert_eq!(fitted(1000, 10, 48), Some((48, 1)));
        let etag = Photo { bytes: vec![1, 2, 3], content_type: "image/png", width: 1, height: 1 }.etag();
        assert_eq!(etag.len(), 10);
    }
}
