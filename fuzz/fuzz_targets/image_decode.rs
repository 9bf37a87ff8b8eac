#![no_main]
//! See liveproof_fuzz::image_decode.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    liveproof_fuzz::image_decode(data);
});
