#![no_main]
//! See liveproof_fuzz::requests.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    liveproof_fuzz::requests(data);
});
