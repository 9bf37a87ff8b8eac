#![no_main]
//! See liveproof_fuzz::evidence.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    liveproof_fuzz::evidence(data);
});
