//! Avatar adapter: implements the domain's [`AvatarStore`] port on the local file system
//! ([`FsAvatarStore`]) or in an S3-compatible bucket ([`S3AvatarStore`]); [`AnyAvatarStore`] is
//! the one chosen by configuration.
//!
//! Uploads are judged by their content (PNG, JPEG, WebP or GIF magic bytes, then a full
//! decode), cropped to a centred square of at most 512 px and re-encoded as PNG, which drops
//! every piece of metadata (EXIF, GPS). Decoding, encoding and file I/O run on the blocking
//! pool, never on the async executor.
#![deny(missing_docs)]

mod fs;
mod s3;

pub use fs::FsAvatarStore;
pub use s3::{S3AvatarStore, S3Location};

use std::io::Cursor;

use image::imageops::FilterType;
use image::{ImageFormat, ImageReader, Limits};

use contacts_domain::Error;
use contacts_domain::user::AvatarStore;

/// Largest side of a stored avatar, in pixels.
pub const AVATAR_SIZE: u32 = 512;

/// Largest image accepted for decoding, per side: a guard against decompression bombs.
const MAX_SOURCE_SIDE: u32 = 10_000;

/// `<32 hex digits>.png`, the only names this store writes.
pub(crate) fn is_avatar_name(name: &str) -> bool {
    name.strip_suffix(".png").is_some_and(|stem| stem.len() == 32 && stem.bytes().all(|b| b.is_ascii_hexdigit()))
}

pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(work).await.map_err(Error::unexpected)?
}

/// Decodes an accepted image, crops it to a centred square, scales it down to
/// [`AVATAR_SIZE`] and encodes it as PNG.
pub fn reencode(upload: &[u8]) -> Result<Vec<u8>, Error> {
    let format = image::guess_format(upload).map_err(|_| Error::UnsupportedMedia)?;
    if !matches!(format, ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP | ImageFormat::Gif) {
        return Err(Error::UnsupportedMedia);
    }
    let mut reader = ImageReader::with_format(Cursor::new(upload), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SOURCE_SIDE);
    limits.max_image_height = Some(MAX_SOURCE_SIDE);
    reader.limits(limits);
    let image = reader.decode().map_err(|_| Error::UnsupportedMedia)?;
    let side = image.width().min(image.height());
    let square = image.crop_imm((image.width() - side) / 2, (image.height() - side) / 2, side, side);
    let avatar =
        if side > AVATAR_SIZE { square.resize_exact(AVATAR_SIZE, AVATAR_SIZE, FilterType::Triangle) } else { square };
    let mut png = Vec::new();
    avatar.write_to(&mut Cursor::new(&mut png), ImageFormat::Png).map_err(Error::unexpected)?;
    Ok(png)
}

pub(crate) fn random_name() -> Result<String, Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(Error::unexpected)?;
    Ok(format!("{}.png", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()))
}

/// The avatar store chosen by configuration (`AVATAR_STORE`).
#[derive(Debug, Clone)]
pub enum AnyAvatarStore {
    /// Files in a folder.
    Fs(FsAvatarStore),
    /// Objects in an S3-compatible bucket.
    S3(S3AvatarStore),
}

impl AnyAvatarStore {
    /// Whether the store can be reached now (a folder always can): `/readyz` reports it.
    pub async fn is_healthy(&self) -> bool {
        match self {
            Self::Fs(_) => true,
            Self::S3(store) => store.is_healthy().await,
        }
    }
}

impl AvatarStore for AnyAvatarStore {
    async fn store(&self, upload: Vec<u8>) -> Result<String, Error> {
        match self {
            Self::Fs(s) => s.store(upload).await,
            Self::S3(s) => s.store(upload).await,
        }
    }

    async fn remove(&self, url: &str) -> Result<(), Error> {
        match self {
            Self::Fs(s) => s.remove(url).await,
            Self::S3(s) => s.remove(url).await,
        }
    }

    async fn read(&self, name: &str) -> Result<Option<Vec<u8>>, Error> {
        match self {
            Self::Fs(s) => s.read(name).await,
            Self::S3(s) => s.read(name).await,
        }
    }
}

#[cfg(test)]
mod tests;
