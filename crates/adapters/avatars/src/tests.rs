use std::path::PathBuf;

use image::{DynamicImage, ImageBuffer, Rgb, Rgba};

use super::*;

/// A real image of `w` × `h` pixels in `format`, with a gradient so resizing has work to do.
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

#[test]
fn a_declared_size_over_the_limits_is_refused_before_decoding() {
    use contacts_test_support::png_declaring;
    // 10000×10000 would take 300 MB decoded; the file is a few dozen bytes.
    // The widest ones the PNG decoder itself refuses to read (2^30 and more): too large still.
    for (w, h) in [(10_000, 10_000), (4_097, 1), (1, 4_097), (4_096, 3_907), (1 << 30, 1), (i32::MAX as u32, 1)] {
        let bomb = png_declaring(w, h);
        assert!(bomb.len() < 100);
        assert!(matches!(check_declared_size(&bomb, ImageFormat::Png), Err(Error::ImageTooLarge)), "{w}x{h}");
        assert!(matches!(reencode(&bomb), Err(Error::ImageTooLarge)), "{w}x{h}");
    }
    // At the limits the header passes (this file then fails to decode: it has no pixels).
    for (w, h) in [(4_096, 3_906), (4_000, 4_000), (1, 4_096)] {
        assert!(check_declared_size(&png_declaring(w, h), ImageFormat::Png).is_ok(), "{w}x{h}");
        assert!(matches!(reencode(&png_declaring(w, h)), Err(Error::UnsupportedMedia)), "{w}x{h}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_decode_holds_one_of_the_permits() {
    let (store, dir) = temp_store_decoding(1);
    assert_eq!(store.free_decodes(), 1);
    let upload = image_bytes(2_000, 2_000, ImageFormat::Png);
    let running = tokio::spawn({
        let store = store.clone();
        async move { store.store(upload).await }
    });
    let mut seen_busy = false;
    for _ in 0..2_000 {
        if store.free_decodes() == 0 {
            seen_busy = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    running.await.unwrap().unwrap();
    assert!(seen_busy, "the running decode held the only permit");
    assert_eq!(store.free_decodes(), 1, "and gave it back");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decode_whose_caller_gave_up_keeps_its_permit_until_it_ends() {
    let decodes = Decodes::new(1);
    let (finish, finished) = std::sync::mpsc::channel::<()>();
    // A decode still running when its caller stops waiting (the client hung up).
    let caller = tokio::spawn({
        let decodes = decodes.clone();
        async move { decodes.run(move || finished.recv().map_err(Error::unexpected)).await }
    });
    while decodes.free() == 1 {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    caller.abort();
    assert!(caller.await.unwrap_err().is_cancelled());
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    assert_eq!(decodes.free(), 0, "the decode still runs, so it still holds the only permit");
    finish.send(()).unwrap();
    let started = std::time::Instant::now();
    while decodes.free() == 0 {
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "the permit came back when the decode ended");
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
}

fn temp_store_decoding(decodes: usize) -> (FsAvatarStore, PathBuf) {
    let (_, dir) = temp_store();
    (FsAvatarStore::with_decodes(&dir, "http://app.test/", decodes), dir)
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
    // Stored under another base URL (APP_BASE_URL changed since): still this store's file.
    let other_name = other.strip_prefix("http://app.test/media/").unwrap();
    store.remove(&format!("https://old.example/contacts/media/{other_name}")).await.unwrap();
    assert_eq!(store.read(other_name).await.unwrap(), None, "deleted whatever the base URL");
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

/// A GIF whose logical screen is `w` × `h` pixels, holding one 1×1 frame.
fn gif_with_screen(w: u16, h: u16) -> Vec<u8> {
    let mut gif = b"GIF89a".to_vec();
    gif.extend_from_slice(&w.to_le_bytes());
    gif.extend_from_slice(&h.to_le_bytes());
    gif.extend_from_slice(&[0x80, 0, 0]); // a global colour table of 2 entries
    gif.extend_from_slice(&[0, 0, 0, 255, 255, 255]);
    gif.extend_from_slice(&[0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0]); // a 1×1 frame at (0, 0)
    gif.extend_from_slice(&[2, 2, 0x44, 0x01, 0]); // its one pixel, LZW-coded
    gif.push(0x3B);
    gif
}

#[test]
fn an_image_of_zero_pixels_is_not_an_image() {
    assert!(reencode(&gif_with_screen(1, 1)).is_ok(), "the fixture is a valid GIF");
    for (w, h) in [(0, 0), (0, 1), (1, 0)] {
        let gif = gif_with_screen(w, h);
        assert!(matches!(check_declared_size(&gif, ImageFormat::Gif), Err(Error::UnsupportedMedia)), "{w}x{h}");
        assert!(matches!(reencode(&gif), Err(Error::UnsupportedMedia)), "{w}x{h}");
    }
    for (w, h) in [(0, 0), (0, 1), (1, 0)] {
        let png = contacts_test_support::png_declaring(w, h);
        assert!(matches!(check_declared_size(&png, ImageFormat::Png), Err(Error::UnsupportedMedia)), "{w}x{h}");
        // Decoded without pixels (whatever the header said): refused too, not left to the encoder.
        assert!(matches!(square_png(DynamicImage::new_rgba8(w, h)), Err(Error::UnsupportedMedia)), "{w}x{h}");
    }
}

#[test]
fn a_16_bit_rgba_png_within_the_limits_is_decoded() {
    // 8 bytes a pixel: 128 MB decoded, over the old bound of 4 bytes a pixel and 16 MiB.
    let (w, h) = (4_096, 3_906);
    assert!(u64::from(w * h) * 8 > MAX_SOURCE_PIXELS * 4 + 16 * 1024 * 1024);
    let mut upload = Vec::new();
    DynamicImage::ImageRgba16(ImageBuffer::<Rgba<u16>, _>::new(w, h))
        .write_to(&mut Cursor::new(&mut upload), ImageFormat::Png)
        .unwrap();
    let avatar = decoded(&reencode(&upload).unwrap());
    assert_eq!((avatar.width(), avatar.height()), (AVATAR_SIZE, AVATAR_SIZE));
}
