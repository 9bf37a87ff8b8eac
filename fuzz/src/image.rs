//! `image_decode`: still decoding (JPEG, PNG, WebP) under limits, as every route decodes
//! uploads.

use liveproof::{decode_image, ImageLimits};

/// Tighter than the server's defaults (8192 px a side, 25 MP, 256 MiB): every header check
/// runs the same at any limit, and a 25 MP decode per input would cut the rate a
/// hundredfold.
pub fn limits() -> ImageLimits {
    ImageLimits {
        max_side: 4096,
        min_side: 32,
        max_pixels: 4_000_000,
        max_alloc: 64 << 20,
    }
}

/// Decodes `data`; a frame that comes out must respect the limits it was decoded under.
/// True when it decoded.
pub fn image_decode(data: &[u8]) -> bool {
    // libfuzzer-sys aborts on every panic from its panic hook, even one the code under test
    // catches. `decode_image` deliberately turns a decoder's panic into an error (zune-jpeg
    // still asserts on malformed JPEGs), so this target restores the default hook: a panic
    // that escapes `decode_image` still ends in libfuzzer-sys's own `catch_unwind` and aborts.
    static DEFAULT_HOOK: std::sync::Once = std::sync::Once::new();
    DEFAULT_HOOK.call_once(|| drop(std::panic::take_hook()));
    let limits = limits();
    let Ok(frame) = decode_image(data, &limits) else {
        return false;
    };
    let (w, h) = (frame.width(), frame.height());
    assert!(
        w.max(h) <= limits.max_side && w.min(h) >= limits.min_side,
        "decoded {w}x{h}, outside the {}..={} px sides",
        limits.min_side,
        limits.max_side
    );
    assert!(
        u64::from(w) * u64::from(h) <= limits.max_pixels,
        "decoded {w}x{h}, over {} pixels",
        limits.max_pixels
    );
    assert_eq!(
        frame.as_ref().data().len(),
        w as usize * h as usize * 3,
        "RGB buffer size"
    );
    true
}
