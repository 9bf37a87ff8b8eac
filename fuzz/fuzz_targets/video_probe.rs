#![no_main]
//! See liveproof_fuzz::video_probe.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    liveproof_fuzz::video_probe(data);
});
