#![no_main]
//! See liveproof_fuzz::batch_zip.

libfuzzer_sys::fuzz_target!(
    // The models load before the first input, so their load (seconds under ASan) is not
    // counted against that input's -timeout.
    init: {
        liveproof_fuzz::fixtures::engine();
    },
    |data: &[u8]| {
        liveproof_fuzz::batch_zip(data);
    }
);
