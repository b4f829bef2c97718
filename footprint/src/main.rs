//! Footprint of the tollgate core on a Cortex-M4 (QEMU `mps2-an386`).
//!
//! Verifies an HS256, an ES256 and an RS256-2048 token (and a tampered copy of each,
//! which must fail), runs the WebSocket handshake both ways and decodes masked frames,
//! printing one line per operation:
//!
//! ```text
//! op=<name> instructions=<n> stack=<bytes> depth=<bytes> verdict=<ok|WRONG>
//! ```
//!
//! and exits through semihosting with a failure status if any verdict is wrong.
//! `scripts/footprint.sh` builds, runs and tabulates it. With the `baseline` feature
//! the core is not called at all: that build's `.text` is the harness alone.

#![no_std]
#![no_main]

#[cfg(not(feature = "baseline"))]
mod fixtures;
mod meter;
#[cfg(not(feature = "baseline"))]
mod ops;

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};

use meter::{Calibration, Measurement};

/// Prints one operation's line; returns whether its verdict was right.
fn report(name: &str, m: &Measurement<bool>) -> bool {
    hprintln!(
        "op={} instructions={} stack={}{} depth={} verdict={}",
        name,
        m.instructions,
        m.stack,
        if m.overflowed { "+" } else { "" },
        m.depth,
        if m.result { "ok" } else { "WRONG" }
    );
    m.result && !m.overflowed
}

#[entry]
fn main() -> ! {
    if let Some(peripherals) = cortex_m::Peripherals::take() {
        meter::start_counter(peripherals.SYST);
    }
    let calibration = Calibration::measure();
    hprintln!(
        "calibration loop_instructions={} ticks={} overhead_ticks={}",
        calibration.instructions,
        calibration.ticks,
        calibration.overhead_ticks
    );
    let failures = run(&calibration);
    hprintln!("done failures={}", failures);
    debug::exit(if failures == 0 {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        cortex_m::asm::wfi();
    }
}

/// The harness alone: one empty operation.
#[cfg(feature = "baseline")]
fn run(calibration: &Calibration) -> u32 {
    let m = meter::measure(calibration, || core::hint::black_box(true));
    u32::from(!report("empty", &m))
}

/// Every operation, in order; returns the number of wrong verdicts.
#[cfg(not(feature = "baseline"))]
fn run(calibration: &Calibration) -> u32 {
    use tollgate::jwt::Algorithm;

    let mut failures = 0;
    let mut check = |name: &str, m: Measurement<bool>| {
        if !report(name, &m) {
            failures += 1;
        }
    };

    // Keys. A failed parse is reported and every later step that needs the key fails too.
    let m = meter::measure(calibration, || ops::hs256_key(fixtures::HS256_SECRET));
    let (hs256, m) = m.judged(Option::is_some);
    check("hs256_key", m);
    let m = meter::measure(calibration, || {
        ops::key_from_pem(fixtures::ES256_PUBLIC_PEM, Algorithm::ES256)
    });
    let (es256, m) = m.judged(Option::is_some);
    check("es256_key_pem", m);
    let m = meter::measure(calibration, || {
        ops::key_from_pem(fixtures::RS256_PUBLIC_PEM, Algorithm::RS256)
    });
    let (rs256, m) = m.judged(Option::is_some);
    check("rs256_key_pem", m);

    // Tokens: each genuine one must verify, each tampered copy must not.
    let mut scratch = [0u8; 1024];
    for (name, tampered_name, token, key) in [
        (
            "hs256_verify",
            "hs256_verify_tampered",
            fixtures::HS256_TOKEN,
            &hs256,
        ),
        (
            "es256_verify",
            "es256_verify_tampered",
            fixtures::ES256_TOKEN,
            &es256,
        ),
        (
            "rs256_2048_verify",
            "rs256_2048_verify_tampered",
            fixtures::RS256_TOKEN,
            &rs256,
        ),
    ] {
        let tampered = ops::Tampered::new(token);
        let (valid, bad) = match (key, &tampered) {
            (Some(key), Some(tampered)) => (
                meter::measure(calibration, || {
                    ops::verify_valid(token.as_bytes(), key, &mut scratch)
                }),
                meter::measure(calibration, || {
                    ops::verify_tampered(tampered.as_bytes(), key, &mut scratch)
                }),
            ),
            _ => (
                meter::measure(calibration, || false),
                meter::measure(calibration, || false),
            ),
        };
        check(name, valid);
        check(tampered_name, bad);
    }

    // WebSocket: the upgrade both ways (token in the query), then frames.
    let token = fixtures::HS256_TOKEN;
    let mut request = [0u8; 1024];
    let request_len = ops::client_request(token, &mut request).unwrap_or(0);
    let request = request.get(..request_len).unwrap_or_default();
    let mut decode = [0u8; 1024];
    let mut response = [0u8; 256];
    let m = meter::measure(calibration, || {
        ops::server_handshake(request, token, &mut decode, &mut response)
    });
    let (response_len, m) = m.judged(Option::is_some);
    check("ws_server_handshake", m);
    let response_len = response_len.unwrap_or(0);
    let response = response.get(..response_len).unwrap_or_default();
    let mut request_out = [0u8; 1024];
    check(
        "ws_client_handshake",
        meter::measure(calibration, || {
            ops::client_handshake(token, &mut request_out, response)
        }),
    );
    let mut response_out = [0u8; 256];
    check(
        "ws_server_handshake_hs256_auth",
        match &hs256 {
            Some(key) => meter::measure(calibration, || {
                ops::authenticated_handshake(
                    request,
                    key,
                    &mut decode,
                    &mut scratch,
                    &mut response_out,
                )
            }),
            None => meter::measure(calibration, || false),
        },
    );

    let mut frames = [0u8; 512];
    let frames_len = ops::client_frames(&mut frames).unwrap_or(0);
    let frames = frames.get_mut(..frames_len).unwrap_or_default();
    let mut transmit = [0u8; 256];
    check(
        "ws_decode_6_frames",
        meter::measure(calibration, || ops::decode_frames(frames, &mut transmit)),
    );
    let mut unmasked = *b"\x81\x05Hello";
    check(
        "ws_refuse_unmasked",
        meter::measure(calibration, || ops::refuse_unmasked(&mut unmasked)),
    );
    hprintln!("buffers {}", ops::BUFFERS);
    failures
}

/// No panic is reachable in the core; should the harness panic, fail the run. The
/// message is not printed: formatting it would link every dependency's `Debug` impls
/// for its panic payloads and inflate the measured `.text`.
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    fail("panic")
}

/// Ends the run with a failure status.
pub fn fail(why: &str) -> ! {
    hprintln!("{}", why);
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
