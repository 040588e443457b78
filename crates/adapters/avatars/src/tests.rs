use std::path::PathBuf;

use image::{DynamicImage, ImageBuffer, Rgb};

use super::*;

/// A real image of `w`×`h` pixels in `format`, with a gradient so resizing has work to do.
pub(crate) fn image_bytes(w: u32, h: u32, format: ImageFormat) -> Vec<u8> {
    let buffer = ImageBuffer::from_fn(w, h, |x, y| Rgb([(x % 256) as u8, (y % 256) as u8, 128]));
    let mut out = Vec::new();
    DynamicImage::ImageRgb8(buffer).write_to(&mut Cursor::new(&mut out), format).unwrap();
    out
}

/// A JPEG carrying an EXIF segment with GPS data, as phones write them.
fn jpeg_with_gps() -> Vec<u8> {
    let jpeg = image_bytes(64, 48, ImageFormat::Jpeg);
    let payload = b"Exif\0\0MM\0*\0\0\0\x08GPSLatitude 48.8566 N GPSLongitude 2.3522 E";
    let mut app1 = vec![0xFF, 0xE1];
    app1.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    app1.extend_from_slice(payload);
    let mut out = jpeg[..2].to_vec(); // SOI
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

fn decoded(png: &[u8]) -> DynamicImage {
    assert_eq!(image::guess_format(png).unwrap(), ImageFormat::Png);
    image::load_from_memory(png).unwrap()
}

#[test]
fn every_accepted_format_becomes_a_square_png_of_at_most_512_px() {
    for format in [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::WebP, ImageFormat::Gif] {
        let big = decoded(&reencode(&image_bytes(640, 560, format)).unwrap());
        assert_eq!((big.width(), big.height()), (512, 512), "{format:?}");
        let small = decoded(&reencode(&image_bytes(100, 300, format)).unwrap());
        assert_eq!((small.width(), small.height()), (100, 100), "{format:?} is not upscaled");
    }
}

#[test]
fn metadata_such_as_gps_is_dropped() {
    let upload = jpeg_with_gps();
    assert!(upload.windows(4).any(|w| w == b"Exif"), "the fixture carries EXIF");
    let png = reencode(&upload).unwrap();
    assert!(!png.windows(4).any(|w| w == b"Exif" || w == b"GPSL"));
    assert!(!png.windows(4).any(|w| w == b"eXIf"), "no PNG EXIF chunk either");
}

#[test]
fn anything_else_is_unsupported_whatever_it_is_called() {
    let mut bmp = b"BM".to_vec(); // a BMP header: a real format, but not one we accept
    bmp.extend([0u8; 60]);
    let mut truncated_png = image_bytes(50, 50, ImageFormat::Png);
    truncated_png.truncate(40);
    for upload in [b"just some text, named avatar.png".to_vec(), bmp, truncated_png, Vec::new()] {
        assert!(matches!(reencode(&upload), Err(Error::UnsupportedMedia)));
    }
}

fn temp_store() -> (FsAvatarStore, PathBuf) {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).unwrap();
    let dir =
        std::env::temp_dir().join(format!("avatars-{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()));
    (FsAvatarStore::new(&dir, "http://app.test/"), dir)
}

#[tokio::test]
async fn stored_avatars_can_be_read_back_and_removed() {
    let (store, dir) = temp_store();
    let url = store.store(image_bytes(600, 600, ImageFormat::Png)).await.unwrap();
    let name = url.strip_prefix("http://app.test/media/").expect("a URL under /media/");
    assert!(is_avatar_name(name));
    let stored = store.read(name).await.unwrap().expect("the file exists");
    assert_eq!(decoded(&stored).width(), 512);

    let other = store.store(image_bytes(20, 20, ImageFormat::Gif)).await.unwrap();
    assert_ne!(url, other, "names are unguessable and unique");

    store.remove(&url).await.unwrap();
    assert_eq!(store.read(name).await.unwrap(), None);
    store.remove(&url).await.unwrap(); // already gone: fine
    store.remove("https://www.gravatar.com/avatar/abc?d=identicon").await.unwrap(); // not ours: ignored
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn only_names_it_writes_can_be_read() {
    let (store, _) = temp_store();
    for name in
        ["../etc/passwd", "x.png", "..", &format!("{}.jpg", "a".repeat(32)), &format!("../{}.png", "a".repeat(29))]
    {
        assert_eq!(store.read(name).await.unwrap(), None, "{name}");
    }
}
