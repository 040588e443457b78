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
pub use s3::{S3AvatarStore, S3Location, S3SettingsError};

use std::io::Cursor;
use std::sync::Arc;

use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat, ImageReader, Limits};
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

/// Widest pixel a decoder may produce, in bytes: 16-bit RGBA (a 16-bit PNG).
const MAX_BYTES_PER_PIXEL: u64 = 8;

/// Memory a decoder may allocate at most: any image within the declared limits at the widest
/// pixel, and some slack for the decoder's own buffers (about 145 MB).
const MAX_DECODER_ALLOC: u64 = MAX_SOURCE_PIXELS * MAX_BYTES_PER_PIXEL + 16 * 1024 * 1024;

/// The bound on images decoded at once, shared by every clone of a store.
///
/// At most one image per core is decoded at a time (like bcrypt's hashes): decoding takes CPU
/// and memory, so a burst of uploads queues instead of multiplying both. The worst case per
/// decode is a 16-bit RGBA image of [`MAX_SOURCE_PIXELS`], not square: up to
/// [`MAX_DECODER_ALLOC`] to decode it and as much again for its cropped square while both are
/// held, about 290 MB at the peak (scaling down takes 32 MiB more once the image is freed).
#[derive(Debug, Clone)]
pub(crate) struct Decodes(Arc<Semaphore>);

impl Decodes {
    /// At most `limit` decodes at a time (at least one).
    pub(crate) fn new(limit: usize) -> Self {
        Self(Arc::new(Semaphore::new(limit.max(1))))
    }

    /// One decode per core.
    pub(crate) fn per_core() -> Self {
        Self::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// Decodes that may start now without waiting.
    pub(crate) fn free(&self) -> usize {
        self.0.available_permits()
    }

    /// [`reencode`]s an upload on the blocking pool while holding one permit.
    pub(crate) async fn reencode(&self, upload: Vec<u8>) -> Result<Vec<u8>, Error> {
        self.run(move || reencode(&upload)).await
    }

    /// Runs `work` on the blocking pool while holding one permit; waits for a permit first. The
    /// permit goes to the blocking thread with the work: an upload whose client hangs up keeps
    /// decoding (a blocking job cannot be stopped), so it keeps its place in the bound until it
    /// ends, and the memory bound holds.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let permit = Arc::clone(&self.0).acquire_owned().await.map_err(Error::unexpected)?;
        blocking(move || {
            let _permit = permit;
            work()
        })
        .await
    }
}

/// `<32 hex digits>.png`, the only names this store writes.
pub(crate) fn is_avatar_name(name: &str) -> bool {
    name.strip_suffix(".png").is_some_and(|stem| stem.len() == 32 && stem.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The name of the stored avatar an avatar URL points at: its last segment after `/media/`, if
/// that is a name this store writes. Whatever base URL the avatar was stored under (one
/// `APP_BASE_URL` or another, before a move or on another instance), a replaced avatar is
/// deleted; other URLs (the default identicon) are not ours.
pub(crate) fn stored_name(url: &str) -> Option<&str> {
    url.rsplit_once("/media/").map(|(_, name)| name).filter(|name| is_avatar_name(name))
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
    square_png(image)
}

/// Crops a decoded image to a centred square, scales it down to [`AVATAR_SIZE`] and encodes
/// it as PNG. An image without pixels is refused ([`Error::UnsupportedMedia`]) whatever its
/// header said: a decoder may size the picture by a frame instead, and the encoder would fail.
fn square_png(image: DynamicImage) -> Result<Vec<u8>, Error> {
    if image.width() == 0 || image.height() == 0 {
        return Err(Error::UnsupportedMedia);
    }
    let square = centred_square(image);
    let side = square.width();
    let avatar =
        if side > AVATAR_SIZE { square.resize_exact(AVATAR_SIZE, AVATAR_SIZE, FilterType::Triangle) } else { square };
    let mut png = Vec::new();
    avatar.write_to(&mut Cursor::new(&mut png), ImageFormat::Png).map_err(Error::unexpected)?;
    Ok(png)
}

/// The image's centred square: itself if square, else a copy, and the whole image is freed
/// before it is scaled down.
fn centred_square(image: DynamicImage) -> DynamicImage {
    let (width, height) = (image.width(), image.height());
    let side = width.min(height);
    if width == height { image } else { image.crop_imm((width - side) / 2, (height - side) / 2, side, side) }
}

/// Reads only the image's header and refuses sizes over [`MAX_SOURCE_SIDE`] a side or
/// [`MAX_SOURCE_PIXELS`] in all ([`Error::ImageTooLarge`]); a header that cannot be read, or
/// declares no pixels (a side of 0), is not an image ([`Error::UnsupportedMedia`]).
pub fn check_declared_size(upload: &[u8], format: ImageFormat) -> Result<(), Error> {
    let read = ImageReader::with_format(Cursor::new(upload), format).into_dimensions();
    // The PNG decoder refuses some headers only for their size (a width of 2^30 and more: its
    // row length would overflow), which is a size too large, not a file that is no image.
    let (width, height) = match (read, format) {
        (Ok(size), _) => size,
        (Err(_), ImageFormat::Png) => png_header_size(upload).ok_or(Error::UnsupportedMedia)?,
        (Err(_), _) => return Err(Error::UnsupportedMedia),
    };
    if width == 0 || height == 0 {
        return Err(Error::UnsupportedMedia);
    }
    if width > MAX_SOURCE_SIDE || height > MAX_SOURCE_SIDE || u64::from(width) * u64::from(height) > MAX_SOURCE_PIXELS {
        return Err(Error::ImageTooLarge);
    }
    Ok(())
}

/// The width and height a PNG's `IHDR` declares, read from the bytes (RFC 2083: the signature,
/// then the `IHDR` chunk's length and type, then width and height, big-endian); `None` when the
/// file does not start so.
fn png_header_size(upload: &[u8]) -> Option<(u32, u32)> {
    const START: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR";
    let size = upload.strip_prefix(START)?.get(..8)?;
    let side = |bytes: &[u8]| u32::from_be_bytes(bytes.try_into().unwrap_or_default());
    Some((side(&size[..4]), side(&size[4..])))
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
