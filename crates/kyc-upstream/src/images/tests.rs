//! Unit tests of `images.rs`.
use super::*;

fn jpeg_len(b64: &str) -> usize {
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
        .len()
}

#[test]
fn images_are_real_jpeg_files() {
    let pool = ImagePool::generate(7, ImageSize::Small, 1)
        .unwrap()
        .unwrap();
    let set = pool.pick(0).unwrap();
    for img in [&set.selfie, &set.front, &set.back, &set.portrait] {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(img)
            .unwrap();
        assert_eq!(&raw[..3], &[0xFF, 0xD8, 0xFF], "JPEG SOI marker");
        assert_eq!(&raw[raw.len() - 2..], &[0xFF, 0xD9], "JPEG EOI marker");
    }
}

#[test]
fn the_same_seed_draws_the_same_images_and_another_seed_does_not() {
    let a = ImagePool::generate(1, ImageSize::Small, 2)
        .unwrap()
        .unwrap();
    let b = ImagePool::generate(1, ImageSize::Small, 2)
        .unwrap()
        .unwrap();
    let c = ImagePool::generate(2, ImageSize::Small, 2)
        .unwrap()
        .unwrap();
    assert_eq!(a.pick(1).unwrap().front, b.pick(1).unwrap().front);
    assert_ne!(a.pick(1).unwrap().front, c.pick(1).unwrap().front);
    assert_ne!(a.pick(0).unwrap().front, a.pick(1).unwrap().front);
}

#[test]
fn full_images_add_up_to_about_the_vendor_sample_size() {
    let pool = ImagePool::generate(3, ImageSize::Full, 1).unwrap().unwrap();
    let s = pool.pick(0).unwrap();
    let b64 = s.selfie.len() + s.front.len() + s.back.len() + s.portrait.len();
    // The vendor-sized sample carries 1,206,200 bytes of base64 images.
    let sizes = [
        s.selfie.len(),
        s.front.len(),
        s.back.len(),
        s.portrait.len(),
    ];
    assert!((1_100_000..1_320_000).contains(&b64), "{b64} {sizes:?}");
    assert!(jpeg_len(&s.front) > jpeg_len(&s.selfie));
    assert!(jpeg_len(&s.selfie) > jpeg_len(&s.portrait));
}

#[test]
fn none_makes_no_pool() {
    assert!(
        ImagePool::generate(1, ImageSize::None, 4)
            .unwrap()
            .is_none()
    );
}
