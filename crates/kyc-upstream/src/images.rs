//! Synthetic but real JPEG images for generated payloads: a selfie, the front and back of a document and
//! the document portrait, drawn from shapes and seeded noise and encoded with `jpeg-encoder`.
//!
//! `full` matches the vendor-sized sample (`tests/fixtures/ditto-v3-full.json`: about 1.2 MB of base64
//! per payload, the document sides being the largest); `small` is thumbnail-sized; `none` sends empty
//! images as the small sample does. Encoding a megapixel costs milliseconds, so a load run draws from a
//! pool of a few variants made once from the seed instead of encoding per payload.

use base64::Engine as _;
use jpeg_encoder::{ColorType, Encoder, EncodingError};
use rand::{Rng as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

/// How large the images in a payload are (`--images`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ImageSize {
    /// Empty selfie, no document images (≈3 KB payloads).
    None,
    /// Thumbnails (≈26 KB payloads).
    #[default]
    Small,
    /// Scan-sized images, ≈1.2 MB of base64 per payload.
    Full,
}

/// Encoding an image failed (only a bug in the dimensions could cause it).
#[derive(Debug, thiserror::Error)]
#[error("JPEG encoding failed: {0}")]
pub struct ImageError(#[from] EncodingError);

/// The four images of one payload, as standard base64 of JPEG files.
#[derive(Debug, Clone)]
pub struct ImageSet {
    /// `kyc_info.liveness_check.video.autocapture_result.selfie_image`
    pub selfie: String,
    /// `document_images.front_page`
    pub front: String,
    /// `document_images.back_page`
    pub back: String,
    /// `document_images.portrait_image`
    pub portrait: String,
}

/// A few image sets generated once; payloads pick one by index.
#[derive(Debug, Clone)]
pub struct ImagePool {
    sets: Vec<ImageSet>,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Selfie,
    Front,
    Back,
    Portrait,
}

/// Width, height, noise amplitude and JPEG quality; the noise sets the file size at a given area.
struct Spec {
    w: u16,
    h: u16,
    noise: u8,
    quality: u8,
}

fn spec(kind: Kind, size: ImageSize) -> Option<Spec> {
    let (w, h, noise, quality) = match (size, kind) {
        (ImageSize::None, _) => return None,
        (ImageSize::Small, Kind::Selfie) => (180, 240, 2, 50),
        (ImageSize::Small, Kind::Front | Kind::Back) => (320, 202, 2, 50),
        (ImageSize::Small, Kind::Portrait) => (90, 120, 2, 50),
        (ImageSize::Full, Kind::Selfie) => (720, 960, 16, 85),
        (ImageSize::Full, Kind::Front | Kind::Back) => (1280, 808, 16, 88),
        (ImageSize::Full, Kind::Portrait) => (300, 400, 18, 88),
    };
    Some(Spec {
        w,
        h,
        noise,
        quality,
    })
}

impl ImagePool {
    /// Generates `variants` image sets from `seed` (at least one); `None` for [`ImageSize::None`].
    pub fn generate(
        seed: u64,
        size: ImageSize,
        variants: usize,
    ) -> Result<Option<Self>, ImageError> {
        if size == ImageSize::None {
            return Ok(None);
        }
        let mut sets = Vec::with_capacity(variants.max(1));
        for v in 0..variants.max(1) as u64 {
            let one = |kind: Kind, salt: u64| -> Result<String, ImageError> {
                let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x1a6e_5eed);
                rng.set_stream(v * 8 + salt);
                draw(kind, size, &mut rng)
            };
            sets.push(ImageSet {
                selfie: one(Kind::Selfie, 1)?,
                front: one(Kind::Front, 2)?,
                back: one(Kind::Back, 3)?,
                portrait: one(Kind::Portrait, 4)?,
            });
        }
        Ok(Some(Self { sets }))
    }

    /// The set for payload `n` (round robin over the variants).
    pub fn pick(&self, n: u64) -> Option<&ImageSet> {
        let len = self.sets.len() as u64;
        self.sets.get(n.checked_rem(len)? as usize)
    }
}

/// Draws one image and returns its JPEG as base64 (empty for [`ImageSize::None`]).
fn draw(kind: Kind, size: ImageSize, rng: &mut ChaCha8Rng) -> Result<String, ImageError> {
    let Some(spec) = spec(kind, size) else {
        return Ok(String::new());
    };
    let mut c = Canvas::new(spec.w.into(), spec.h.into());
    let tint = [
        rng.gen_range(0..40u8),
        rng.gen_range(0..40),
        rng.gen_range(0..40),
    ];
    match kind {
        Kind::Selfie | Kind::Portrait => {
            c.gradient(
                [180 - tint[0], 190 - tint[1], 200 - tint[2]],
                [120, 130, 150],
            );
            let skin = [
                rng.gen_range(120..230u8),
                rng.gen_range(90..180),
                rng.gen_range(70..150),
            ];
            c.ellipse(0.5, 0.32, 0.30, 0.22, [40 + tint[0], 30, 25]); // hair
            c.ellipse(0.5, 0.45, 0.24, 0.30, skin); // face
            c.ellipse(0.5, 1.0, 0.48, 0.30, [60, 70 + tint[1], 110]); // shoulders
        }
        Kind::Front | Kind::Back => {
            c.gradient(
                [225, 220 - tint[1], 210],
                [200 - tint[0], 210, 225 - tint[2]],
            );
            c.waves(rng.gen_range(10.0..30.0), [170, 180, 200]);
            let text_from = if matches!(kind, Kind::Front) {
                c.rect(0.05, 0.2, 0.25, 0.7, [150, 140, 130]); // printed portrait
                0.35
            } else {
                0.08
            };
            for line in 0..6u8 {
                let y = 0.2 + 0.09 * f32::from(line);
                let len = rng.gen_range(0.2..0.55);
                c.rect(text_from, y, text_from + len, y + 0.035, [40, 40, 60]);
            }
            if matches!(kind, Kind::Back) {
                for line in 0..3u8 {
                    let y = 0.75 + 0.07 * f32::from(line);
                    c.rect(0.05, y, 0.95, y + 0.045, [30, 30, 30]); // MRZ lines
                }
            }
        }
    }
    c.noise(spec.noise, rng);
    let mut jpeg = Vec::new();
    Encoder::new(&mut jpeg, spec.quality).encode(&c.px, spec.w, spec.h, ColorType::Rgb)?;
    Ok(base64::engine::general_purpose::STANDARD.encode(jpeg))
}

/// An RGB pixel buffer with the few drawing operations above.
struct Canvas {
    w: usize,
    h: usize,
    px: Vec<u8>,
}

impl Canvas {
    fn new(w: usize, h: usize) -> Self {
        Self {
            w,
            h,
            px: vec![0; w * h * 3],
        }
    }

    fn put(&mut self, x: usize, y: usize, rgb: [u8; 3]) {
        let i = (y * self.w + x) * 3;
        if let Some(p) = self.px.get_mut(i..i + 3) {
            p.copy_from_slice(&rgb);
        }
    }

    fn gradient(&mut self, top: [u8; 3], bottom: [u8; 3]) {
        for y in 0..self.h {
            let t = y as f32 / self.h.max(1) as f32;
            let mix = |a: u8, b: u8| (f32::from(a) * (1.0 - t) + f32::from(b) * t) as u8;
            let rgb = [
                mix(top[0], bottom[0]),
                mix(top[1], bottom[1]),
                mix(top[2], bottom[2]),
            ];
            for x in 0..self.w {
                self.put(x, y, rgb);
            }
        }
    }

    /// Fine guilloche-like lines, as security printing has.
    fn waves(&mut self, period: f32, rgb: [u8; 3]) {
        for y in 0..self.h {
            for x in 0..self.w {
                let v = ((x as f32 / period).sin() + (y as f32 / (period * 0.7)).cos()).abs();
                if v < 0.08 {
                    self.put(x, y, rgb);
                }
            }
        }
    }

    /// Filled ellipse; centre and radii as fractions of width and height.
    fn ellipse(&mut self, cx: f32, cy: f32, rx: f32, ry: f32, rgb: [u8; 3]) {
        let (w, h) = (self.w as f32, self.h as f32);
        for y in 0..self.h {
            for x in 0..self.w {
                let dx = (x as f32 / w - cx) / rx;
                let dy = (y as f32 / h - cy) / ry;
                if dx * dx + dy * dy <= 1.0 {
                    self.put(x, y, rgb);
                }
            }
        }
    }

    /// Filled rectangle; corners as fractions of width and height.
    fn rect(&mut self, x0: f32, y0: f32, x1: f32, y1: f32, rgb: [u8; 3]) {
        let (w, h) = (self.w as f32, self.h as f32);
        let xs = (x0 * w) as usize..((x1 * w) as usize).min(self.w);
        for y in (y0 * h) as usize..((y1 * h) as usize).min(self.h) {
            for x in xs.clone() {
                self.put(x, y, rgb);
            }
        }
    }

    /// Sensor noise of ± `amplitude`; it is what makes the file size realistic.
    fn noise(&mut self, amplitude: u8, rng: &mut ChaCha8Rng) {
        let span = u16::from(amplitude) * 2 + 1;
        for p in &mut self.px {
            let delta = i16::try_from(rng.gen_range(0..span)).unwrap_or(0) - i16::from(amplitude);
            *p = (i16::from(*p) + delta).clamp(0, 255) as u8;
        }
    }
}

#[cfg(test)]
mod tests;
