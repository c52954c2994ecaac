//! The packet holder behind the `delay` nemesis. This kernel has no `netem`, so latency is
//! added in user space: an iptables rule in a node's namespace sends its egress packets to the
//! peers to an NFQUEUE (with `--queue-bypass`, so packets pass untouched whenever no holder is
//! bound), and this loop, run inside that namespace as `jepsen delay-holder`, keeps each packet
//! for the configured delay (± jitter) and then accepts it.
//!
//! Memory is bounded: at most `HELD_MAX` packets are held; beyond that a packet is accepted at
//! once (the kernel's own queue is also capped).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Packets held at most.
const HELD_MAX: usize = 20_000;

/// Holds every packet of queue `queue_num` for `delay` ± `jitter` (uniform), until killed.
///
/// # Errors
/// When the queue cannot be opened or bound (no privilege, or another holder owns it), or a
/// netlink call fails.
pub fn hold(queue_num: u16, delay: Duration, jitter: Duration, seed: u64) -> std::io::Result<()> {
    let mut queue = nfq::Queue::open()?;
    queue.bind(queue_num)?;
    queue.set_fail_open(queue_num, true)?;
    queue.set_queue_max_len(queue_num, 16_384)?;
    queue.set_nonblocking(true);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut held: BTreeMap<(Instant, u64), nfq::Message> = BTreeMap::new();
    let mut sequence: u64 = 0;
    loop {
        let mut received = false;
        match queue.recv() {
            Ok(mut message) => {
                received = true;
                if held.len() >= HELD_MAX {
                    message.set_verdict(nfq::Verdict::Accept);
                    queue.verdict(message)?;
                } else {
                    let spread = jitter.as_secs_f64();
                    let extra = if spread > 0.0 {
                        rng.gen_range(-spread..spread)
                    } else {
                        0.0
                    };
                    let hold_for = Duration::from_secs_f64((delay.as_secs_f64() + extra).max(0.0));
                    sequence += 1;
                    held.insert((Instant::now() + hold_for, sequence), message);
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
        let now = Instant::now();
        while let Some(entry) = held.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let mut message = entry.remove();
            message.set_verdict(nfq::Verdict::Accept);
            queue.verdict(message)?;
        }
        if !received {
            // Nothing arrived: idle until the next release is due, at most 1 ms, so that new
            // packets are picked up promptly. This paces a polling loop; it waits for nothing.
            let next = held
                .first_key_value()
                .map_or(Duration::from_millis(1), |((due, _), _)| {
                    due.saturating_duration_since(now)
                });
            std::thread::sleep(next.min(Duration::from_millis(1)));
        }
    }
}
