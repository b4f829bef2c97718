//! Instruction counter and stack high-water mark, one operation at a time.
//!
//! **Instructions.** QEMU runs with `-icount shift=N`: every guest instruction advances
//! virtual time by 2^N ns, and SysTick (clock source = core clock, 25 MHz on
//! `mps2-an386`) counts virtual time. So SysTick ticks are a fixed multiple of executed
//! instructions; [`Calibration`] measures that multiple with `cortex_m::asm::delay`,
//! whose loop length is exact (two instructions per iteration, `cycles + 1` iterations),
//! instead of trusting the clock figures. Debian's QEMU has no TCG plugins and DWT
//! `CYCCNT` is not modelled, hence this route.
//!
//! **Stack.** Before an operation everything between the bottom of the stack region
//! (`_stack_end` from cortex-m-rt's linker script) and the current stack pointer is
//! painted with [`PAINT`]; afterwards the lowest word that no longer holds the paint is
//! the deepest point the operation reached. This is the only `unsafe` in the firmware:
//! reading and writing memory that no Rust object owns cannot be done from safe code.

use core::ptr;
use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::SYST;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::exception;

/// The paint value (cortex-m-rt's `paint-stack` uses the same).
const PAINT: u32 = 0xCCCC_CCCC;

/// SysTick is a 24-bit down-counter.
const SYSTICK_RELOAD: u32 = 0x00FF_FFFF;

/// SysTick wrap-arounds since start: extends the counter past 24 bits.
static WRAPS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    WRAPS.fetch_add(1, Ordering::Relaxed);
}

unsafe extern "C" {
    /// Lowest address of the stack region (end of `.bss`/`.uninit`, from `link.x`).
    static _stack_end: u32;
    /// Initial stack pointer (top of RAM).
    static _stack_start: u32;
}

fn stack_bottom() -> usize {
    (&raw const _stack_end) as usize
}

/// The initial stack pointer: depths are reported from here too.
pub fn stack_top() -> usize {
    (&raw const _stack_start) as usize
}

/// Starts SysTick from the core clock with the largest reload and its wrap interrupt.
pub fn start_counter(mut syst: SYST) {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(SYSTICK_RELOAD);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
    // The first reload happens on the first tick; until then the counter reads 0,
    // which `now` would take for a full period.
    while SYST::get_current() == 0 {}
}

/// Ticks since [`start_counter`], wrap-arounds included.
fn now() -> u64 {
    loop {
        let before = WRAPS.load(Ordering::SeqCst);
        let current = SYST::get_current();
        let after = WRAPS.load(Ordering::SeqCst);
        if before == after {
            let elapsed = u64::from(SYSTICK_RELOAD - current);
            return u64::from(before) * (u64::from(SYSTICK_RELOAD) + 1) + elapsed;
        }
    }
}

/// Paints every word from the bottom of the stack region up to `top`, the stack pointer
/// of the (inlined-into) caller.
///
/// Always inlined into [`measure`]: a function of its own could read the stack pointer
/// before its prologue pushes the return address, and paint over it.
#[inline(always)]
fn paint(top: usize) {
    let mut addr = stack_bottom();
    while addr + 4 <= top {
        // SAFETY: `addr` is word-aligned (`_stack_end` is 4-aligned, link.x asserts it)
        // and lies in RAM between the end of the static data and the current stack
        // pointer (the whole frame of `measure` is allocated by its prologue, so nothing
        // of it is below). No Rust object owns memory below the stack pointer, and an
        // exception taken meanwhile pushes its frame below the current stack pointer and
        // is done with it when it returns.
        unsafe { ptr::write_volatile(addr as *mut u32, PAINT) };
        addr += 4;
    }
}

/// The lowest stack address written since [`paint`] (a word no longer holding the paint).
#[inline(always)]
fn deepest(limit: usize) -> usize {
    let mut addr = stack_bottom();
    // SAFETY: as in `paint`: aligned words of the stack region below the current stack
    // pointer; reading them races with nothing (single core, and an exception
    // handler only writes below the current stack pointer).
    while addr < limit && unsafe { ptr::read_volatile(addr as *const u32) } == PAINT {
        addr += 4;
    }
    addr
}

/// Instructions per SysTick tick, measured.
#[derive(Clone, Copy)]
pub struct Calibration {
    /// Instructions of the calibration loop.
    pub instructions: u64,
    /// Ticks it took, less the cost of reading the counter.
    pub ticks: u64,
    /// Ticks read around nothing (the cost of measuring).
    pub overhead_ticks: u64,
}

impl Calibration {
    /// `delay(LOOP_CYCLES)` runs `LOOP_CYCLES + 1` iterations of `subs; bne`.
    const LOOP_CYCLES: u32 = 4_000_000;

    /// Measures the tick rate against a loop of known length.
    pub fn measure() -> Self {
        let start = now();
        let end = now();
        let overhead_ticks = end - start;
        let start = now();
        cortex_m::asm::delay(Self::LOOP_CYCLES);
        let end = now();
        Self {
            instructions: 2 * (u64::from(Self::LOOP_CYCLES) + 1),
            ticks: (end - start).saturating_sub(overhead_ticks),
            overhead_ticks,
        }
    }

    /// Ticks as instructions, rounded to the nearest.
    pub fn instructions(&self, ticks: u64) -> u64 {
        (ticks * self.instructions + self.ticks / 2) / self.ticks.max(1)
    }
}

/// What one operation cost.
pub struct Measurement<R> {
    /// The operation's result.
    pub result: R,
    /// Executed instructions (calibrated, measuring overhead removed).
    pub instructions: u64,
    /// Bytes of stack below the caller's stack pointer that the operation wrote.
    pub stack: usize,
    /// Bytes from the top of RAM to the deepest point (the harness frames included).
    pub depth: usize,
    /// The paint was gone down to the bottom of the region: the figure is a lower bound.
    pub overflowed: bool,
}

impl<R> Measurement<R> {
    /// Splits off the result, keeping the verdict on it.
    pub fn judged(self, verdict: impl FnOnce(&R) -> bool) -> (R, Measurement<bool>) {
        let judged = Measurement {
            result: verdict(&self.result),
            instructions: self.instructions,
            stack: self.stack,
            depth: self.depth,
            overflowed: self.overflowed,
        };
        (self.result, judged)
    }
}

/// Calls `op` in a frame of its own, below the stack pointer [`measure_dyn`] records
/// (were it inlined there, its locals would sit above that mark and go uncounted).
#[inline(never)]
fn run(op: &mut dyn FnMut()) {
    op()
}

/// What [`measure_dyn`] measured, before the result is attached.
struct Figures {
    instructions: u64,
    stack: usize,
    depth: usize,
    overflowed: bool,
}

/// Runs `op` once on a freshly painted stack and measures it.
///
/// Not generic, so the firmware holds one copy of the measuring code however many
/// operations it measures: a copy per operation would be harness code that the
/// baseline build does not have, counted as the core's.
#[inline(never)]
fn measure_dyn(calibration: &Calibration, op: &mut dyn FnMut()) -> Figures {
    let base = cortex_m::register::msp::read() as usize;
    paint(base);
    let start = now();
    run(op);
    let end = now();
    let deepest = deepest(base);
    Figures {
        instructions: calibration
            .instructions((end - start).saturating_sub(calibration.overhead_ticks)),
        stack: base - deepest,
        depth: stack_top() - deepest,
        overflowed: deepest <= stack_bottom(),
    }
}

/// Runs `op` once on a freshly painted stack and measures it.
pub fn measure<R>(calibration: &Calibration, op: impl FnOnce() -> R) -> Measurement<R> {
    let mut op = Some(op);
    let mut result = None;
    let figures = measure_dyn(calibration, &mut || {
        if let Some(op) = op.take() {
            result = Some(op());
        }
    });
    // `measure_dyn` calls the closure exactly once.
    let Some(result) = result else {
        crate::fail("operation not run")
    };
    Measurement {
        result,
        instructions: figures.instructions,
        stack: figures.stack,
        depth: figures.depth,
        overflowed: figures.overflowed,
    }
}
