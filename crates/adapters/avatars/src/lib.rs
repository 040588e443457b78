//! Avatar adapter: implements the domain's [`AvatarStore`] port on the local file system.
//!
//! Uploads are judged by their content (PNG, JPEG, WebP or GIF magic bytes, then a full
//! decode), cropped to a centred square of at most 512 px and re-encoded as PNG, which drops
//! every piece of metadata (EXIF, GPS). Decoding, encoding and file I/O run on the blocking
//! pool, never on the async executor.
#![deny(missing_docs)]

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use image::{ImageFormat, ImageReader, Limits};

use contacts_domain::Error;
use contacts_domain::user::AvatarStore;

/// Largest side of a stored avatar, in pixels.
pub const AVATAR_SIZE: u32 = 512;

/// Largest image accepted for decoding, per side: a guard against decompression bombs.
const MAX_SOURCE_SIDE: u32 = 10_000;

/// Stores avatars as `<random>.png` files in a folder, served under `{base_url}/media/`.
#[derive(Debug, Clone)]
pub struct FsAvatarStore {
    dir: PathBuf,
    public_prefix: String,
}

impl FsAvatarStore {
    /// A store writing into `dir` (created when needed) whose URLs start with
    /// `{base_url}/media/`.
    pub fn new(dir: impl Into<PathBuf>, base_url: &str) -> Self {
        Self { dir: dir.into(), public_prefix: format!("{}/media/", base_url.trim_end_matches('/')) }
    }
}

/// `<32 hex digits>.png`, the only names this store writes.
fn is_avatar_name(name: &str) -> bool {
    name.strip_suffix(".png").is_some_and(|stem| stem.len() == 32 && stem.bytes().all(|b| b.is_ascii_hexdigit()))
}

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> Result<T, Error> + Send + 'static) -> Result<T, Error> {
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

fn random_name() -> Result<String, Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(Error::unexpected)?;
    Ok(format!("{}.png", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()))
}

fn write_new(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), Error> {
    std::fs::create_dir_all(dir).map_err(Error::unexpected)?;
    std::fs::write(dir.join(name), bytes).map_err(Error::unexpected)
}

impl AvatarStore for FsAvatarStore {
    async fn store(&self, upload: Vec<u8>) -> Result<String, Error> {
        let dir = self.dir.clone();
        let name = blocking(move || {
            let png = reencode(&upload)?;
            let name = random_name()?;
            write_new(&dir, &name, &png)?;
            Ok(name)
        })
        .await?;
        Ok(format!("{}{name}", self.public_prefix))
    }

    async fn remove(&self, url: &str) -> Result<(), Error> {
        let Some(name) = url.strip_prefix(&self.public_prefix).filter(|n| is_avatar_name(n)) else {
            return Ok(());
        };
        let path = self.dir.join(name);
        blocking(move || match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::unexpected(e)),
            _ => Ok(()),
        })
        .await
    }

    // Names are checked, so no path outside the folder can be read.
    async fn read(&self, name: &str) -> Result<Option<Vec<u8>>, Error> {
        if !is_avatar_name(name) {
            return Ok(None);
        }
        let path = self.dir.join(name);
        blocking(move || match std::fs::read(path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::unexpected(e)),
        })
        .await
    }
}

#[cfg(test)]
mod tests;
