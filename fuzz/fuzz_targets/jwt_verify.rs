#![no_main]

static KEYS: std::sync::LazyLock<tollgate::fuzzing::TestKeys> =
    std::sync::LazyLock::new(tollgate::fuzzing::TestKeys::new);

libfuzzer_sys::fuzz_target!(|data: &[u8]| tollgate::fuzzing::jwt_verify(&KEYS, data));
