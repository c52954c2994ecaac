//! The harness of `http_compat.rs`: the same raw requests sent in the same order to a real
//! etcd 3.4 and to Keel, each reply normalised (`normalise.rs` says what is rewritten and why)
//! and the two compared.
//!
//! Request templates may name indexes relative to each server's own counter, so one table
//! drives both servers although their absolute indexes differ:
//! * `{i:N}`: the index of the test's first write plus `N`;
//! * `{q:N}`: the same as the 20-digit name of an in-order key;
//! * `{c:N}`: the server's current index (last `X-Etcd-Index` seen) plus `N` (may be negative).

pub mod etcd;
pub mod normalise;
pub mod raw;
mod run;

pub use run::Runner;

use normalise::Shape;

/// A difference between etcd and Keel that `docs/compat.md` (or the spec) lists as deliberate.
/// A case marked with one is compared in full except for exactly that difference, and the
/// harness checks that the difference is the documented one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Known {
    #[default]
    None,
    /// History replay (`waitIndex` in the past): etcd returns a hidden key's event, Keel filters
    /// hidden keys as its live watches do and returns the next visible event (compat.md:
    /// "History replay shows hidden keys"). Status and headers are still compared.
    HiddenKeyReplay,
    /// `compareAndDelete` of `/`: both answer 102, etcd with an internal key prefix as `cause`,
    /// Keel with none (compat.md: "etcd leaks an internal key prefix there").
    RootCompareAndDeleteCause,
}

/// One request of the table.
#[derive(Debug, Clone)]
pub struct Case {
    pub method: &'static str,
    /// The target with placeholders (see the module docs).
    pub target: String,
    /// `(Content-Type, body template)`.
    pub body: Option<(&'static str, String)>,
    pub shape: Shape,
    pub known: Known,
}

impl Case {
    fn new(method: &'static str, target: &str) -> Case {
        Case {
            method,
            target: target.to_owned(),
            body: None,
            shape: Shape::Exact,
            known: Known::None,
        }
    }

    /// Attach an `application/x-www-form-urlencoded` body.
    pub fn form(mut self, form: &str) -> Case {
        self.body = Some(("application/x-www-form-urlencoded", form.to_owned()));
        self
    }

    /// Attach a body of another content type.
    pub fn typed_body(mut self, content_type: &'static str, body: &str) -> Case {
        self.body = Some((content_type, body.to_owned()));
        self
    }

    pub fn shape(mut self, shape: Shape) -> Case {
        self.shape = shape;
        self
    }

    pub fn known(mut self, known: Known) -> Case {
        self.known = known;
        self
    }
}

pub fn get(target: &str) -> Case {
    Case::new("GET", target)
}

pub fn head(target: &str) -> Case {
    Case::new("HEAD", target)
}

pub fn put(target: &str, form: &str) -> Case {
    Case::new("PUT", target).form(form)
}

/// A PUT without a body (parameters in the query string only).
pub fn put_bare(target: &str) -> Case {
    Case::new("PUT", target)
}

pub fn post(target: &str, form: &str) -> Case {
    Case::new("POST", target).form(form)
}

pub fn delete(target: &str) -> Case {
    Case::new("DELETE", target)
}

pub fn method(method: &'static str, target: &str) -> Case {
    Case::new(method, target)
}

/// One step of the script, run on etcd and then on Keel before the next step.
#[derive(Debug, Clone)]
pub enum Step {
    /// One request; the replies are compared.
    Send(Case),
    /// Poll `GET /v2/keys<path>` until it answers 404 (a TTL expired: the `expire` event took
    /// one index on each server), within a deadline. Not compared.
    AwaitGone(&'static str),
    /// `count` sets under `/burst`, several connections at once, each of which must succeed:
    /// pushes old events out of the 1000-event history. Not compared one by one.
    Burst(usize),
    /// A watch that blocks, then the writes that should end it (once the watcher is seen
    /// registered in `/v2/stats/store`); the watch and every write are compared.
    LiveWatch { watch: Case, triggers: Vec<Case> },
}
