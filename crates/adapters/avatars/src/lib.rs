//! Avatar adapter: implements the domain's [`AvatarStore`] port on the local file system.
//!
//! Uploads are judged by their content (PNG, JPEG, WebP or GIF magic bytes, then a full
//! decode), cropped to a centred square of at most 512 px and re-encoded as PNG, which drops
//! every piece of metadata (EXIF, GPS). Decoding, encoding and file I/O run on the blocking
//! pool, never on the async executor.
#![deny(missing_docs)]

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use image::imageops::FilterType;
use image::{ImageFormat, ImageReader, Limits};
use tokio::sync::Semaphore;

use contacts_domain::Error;
use contacts_domain::user::AvatarStore;

/// Largest side of a stored avatar, in pixels.
pub const AVATAR_SIZE: u32 = 512;

/// Largest image accepted, per side, as its header declares it: checked before decoding, so
/// a small file declaring a huge picture (a decompression bomb) never reaches memory.
pub const MAX_SOURCE_SIDE: u32 = 4_096;

/// Largest image accepted, in pixels (width × height), as declared.
pub const MAX_SOURCE_PIXELS: u64 = 16_000_000;

/// Memory a decoder may allocate at most: 16 million RGBA pixels and some slack.
const MAX_DECODER_ALLOC: u64 = MAX_SOURCE_PIXELS * 4 + 16 * 1024 * 1024;

/// Stores avatars as `<random>.png` files in a folder, served under `{base_url}/media/`.
///
/// At most one image per core is decoded at a time (like bcrypt's hashes): decoding takes CPU
/// and up to [`MAX_SOURCE_PIXELS`] × 4 bytes of memory, so a burst of uploads queues instead
/// of multiplying both.
#[derive(Debug, Clone)]
pub struct FsAvatarStore {
    dir: PathBuf,
    public_prefix: String,
    decodes: Arc<Semaphore>,
}

impl FsAvatarStore {
    /// A store writing into `dir` (created when needed) whose URLs start with
    /// `{base_url}/media/`.
    pub fn new(dir: impl Into<PathBuf>, base_url: &str) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::with_decodes(dir, base_url, cores)
    }

    /// [`FsAvatarStore::new`] with at most `decodes` images decoded at a time.
    pub fn with_decodes(dir: impl Into<PathBuf>, base_url: &str, decodes: usize) -> Self {
        Self {
            dir: dir.into(),
            public_prefix: format!("{}/media/", base_url.trim_end_matches('/')),
            decodes: Arc::new(Semaphore::new(decodes.max(1))),
        }
    }

    /// Decodes that may start now without waiting.
    pub fn free_decodes(&self) -> usize {
        self.decodes.available_permits()
    }

    /// The bytes of a stored avatar by file name, or `None` if there is no such avatar. Names
    /// are checked, so no path outside the folder can be read.
    pub async fn read(&self, name: &str) -> Result<Option<Vec<u8>>, Error> {
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
    check_declared_size(upload, format)?;
    let mut reader = ImageReader::with_format(Cursor::new(upload), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SOURCE_SIDE);
    limits.max_image_height = Some(MAX_SOURCE_SIDE);
    limits.max_alloc = Some(MAX_DECODER_ALLOC);
    reader.limits(limits);
    let image = reader.decode().map_err(|error| match error {
        image::ImageError::Limits(_) => Error::ImageTooLarge,
        _ => Error::UnsupportedMedia,
    })?;
    let side = image.width().min(image.height());
    let square = image.crop_imm((image.width() - side) / 2, (image.height() - side) / 2, side, side);
    let avatar =
        if side > AVATAR_SIZE { square.resize_exact(AVATAR_SIZE, AVATAR_SIZE, FilterType::Triangle) } else { square };
    let mut png = Vec::new();
    avatar.write_to(&mut Cursor::new(&mut png), ImageFormat::Png).map_err(Error::unexpected)?;
    Ok(png)
}

/// Reads only the image's header and refuses sizes over [`MAX_SOURCE_SIDE`] a side or
/// [`MAX_SOURCE_PIXELS`] in all ([`Error::ImageTooLarge`]); a header that cannot be read is
/// not an image ([`Error::UnsupportedMedia`]).
pub fn check_declared_size(upload: &[u8], format: ImageFormat) -> Result<(), Error> {
    let (width, height) =
        ImageReader::with_format(Cursor::new(upload), format).into_dimensions().map_err(|_| Error::UnsupportedMedia)?;
    if width > MAX_SOURCE_SIDE || height > MAX_SOURCE_SIDE || u64::from(width) * u64::from(height) > MAX_SOURCE_PIXELS {
        return Err(Error::ImageTooLarge);
    }
    Ok(())
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
        let _permit = self.decodes.acquire().await.map_err(Error::unexpected)?;
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
}

#[cfg(test)]
mod tests;
