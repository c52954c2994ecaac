//! The endpoint list: which endpoint a call starts with, which one it fails over to, and how a
//! `/v2/members` answer replaces the list.
//!
//! Pure data behind the client's one `std::sync::Mutex`; nothing here awaits, so the guard is
//! never held across an `.await` (STYLE §2.10). Invariants: the list is never empty, holds no
//! duplicate, and has at most `limits::ENDPOINTS_MAX` entries; the configured endpoints are
//! always in it (as fallback after discovered ones).

use crate::config::Endpoint;
use crate::limits::{DISCOVERY_INTERVAL_MIN, ENDPOINTS_MAX};
use kv_wire::Member;
use tokio::time::Instant;

#[derive(Debug)]
pub(crate) struct EndpointSet {
    /// Discovered client URLs first, then configured endpoints not among them.
    list: Vec<Endpoint>,
    /// What the user configured; kept as fallback across discoveries.
    configured: Vec<Endpoint>,
    /// Position in `list` of the endpoint calls start with: the last one that answered.
    preferred: usize,
    /// When discovery last ran (or was claimed); `None` before the first.
    discovered_at: Option<Instant>,
    /// A failover happened since the last discovery.
    stale: bool,
}

impl EndpointSet {
    /// # Panics
    /// If `configured` is empty: `ClientConfig::validate` refuses that, so it cannot happen.
    pub(crate) fn new(configured: Vec<Endpoint>) -> EndpointSet {
        assert!(!configured.is_empty(), "validated config has an endpoint");
        EndpointSet {
            list: configured.clone(),
            configured,
            preferred: 0,
            discovered_at: None,
            stale: false,
        }
    }

    pub(crate) fn list(&self) -> Vec<Endpoint> {
        self.list.clone()
    }

    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    /// Where a call starts.
    pub(crate) fn preferred(&self) -> Endpoint {
        self.list[self.preferred % self.list.len()].clone()
    }

    /// The endpoint after `current` in list order (wrapping); the preferred one when `current`
    /// left the list.
    pub(crate) fn after(&self, current: &Endpoint) -> Endpoint {
        match self.list.iter().position(|endpoint| endpoint == current) {
            Some(position) => self.list[(position + 1) % self.list.len()].clone(),
            None => self.preferred(),
        }
    }

    /// `endpoint` answered: later calls start there.
    pub(crate) fn answered(&mut self, endpoint: &Endpoint) {
        if let Some(position) = self.list.iter().position(|known| known == endpoint) {
            self.preferred = position;
        }
    }

    /// `endpoint` failed and the call moved on: discovery should run again.
    pub(crate) fn failed_over(&mut self) {
        self.stale = true;
    }

    /// Claims the next discovery when one is due: never run yet, or stale and the last one at
    /// least `DISCOVERY_INTERVAL_MIN` ago. Claiming stamps the time, so concurrent calls do
    /// not all discover at once.
    pub(crate) fn claim_discovery(&mut self, now: Instant) -> bool {
        let due = match self.discovered_at {
            None => true,
            Some(at) => self.stale && now.duration_since(at) >= DISCOVERY_INTERVAL_MIN,
        };
        if due {
            self.discovered_at = Some(now);
            self.stale = false;
        }
        due
    }

    /// Replaces the list with the members' client URLs followed by the configured endpoints.
    /// URLs that are not `http://host:port` (e.g. `https`) are skipped, and so is a member
    /// that has not started (no client URLs). When no URL is usable the list is left as it is.
    /// Keeps the preferred endpoint when it is still
    /// listed, else starts at the first discovered one. Returns the skipped URLs.
    pub(crate) fn install_members(&mut self, members: &[Member]) -> Vec<String> {
        let mut skipped = Vec::new();
        let mut list: Vec<Endpoint> = Vec::new();
        let urls = members.iter().flat_map(|member| member.client_urls.iter());
        for url in urls {
            match Endpoint::parse(url) {
                Ok(endpoint) if !list.contains(&endpoint) && list.len() < ENDPOINTS_MAX => {
                    list.push(endpoint);
                }
                Ok(_) => {}
                Err(_) => skipped.push(url.clone()),
            }
        }
        let discovered = list.len();
        if discovered == 0 {
            // Nothing usable was discovered: keep what works rather than only the seeds.
            return skipped;
        }
        for endpoint in &self.configured {
            if !list.contains(endpoint) && list.len() < ENDPOINTS_MAX {
                list.push(endpoint.clone());
            }
        }
        let current = self.preferred();
        self.preferred = list[..discovered]
            .iter()
            .position(|endpoint| *endpoint == current)
            .unwrap_or(0);
        self.list = list;
        skipped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(port: u16) -> Endpoint {
        Endpoint::parse(&format!("http://127.0.0.1:{port}")).unwrap()
    }

    fn member(urls: &[&str]) -> Member {
        Member {
            id: "1".to_owned(),
            name: "m".to_owned(),
            peer_urls: vec![],
            client_urls: urls.iter().map(|url| (*url).to_owned()).collect(),
        }
    }

    // Goal: failover walks the list in order and wraps; an answer moves the start point.
    #[test]
    fn failover_order_wraps_and_answer_moves_preference() {
        let mut set = EndpointSet::new(vec![endpoint(1), endpoint(2), endpoint(3)]);
        assert_eq!(set.preferred(), endpoint(1));
        assert_eq!(set.after(&endpoint(1)), endpoint(2));
        assert_eq!(set.after(&endpoint(3)), endpoint(1));
        set.answered(&endpoint(3));
        assert_eq!(set.preferred(), endpoint(3));
        assert_eq!(set.after(&endpoint(9)), endpoint(3));
    }

    // Goal: discovered URLs come first, configured ones stay as fallback, invalid URLs and
    // unstarted members are skipped, duplicates collapse.
    #[test]
    fn members_replace_list_with_configured_fallback() {
        let mut set = EndpointSet::new(vec![endpoint(1)]);
        let skipped = set.install_members(&[
            member(&["http://127.0.0.1:2", "https://127.0.0.1:7"]),
            member(&[]),
            member(&["http://127.0.0.1:3", "http://127.0.0.1:2/"]),
        ]);
        assert_eq!(skipped, vec!["https://127.0.0.1:7".to_owned()]);
        assert_eq!(set.list(), vec![endpoint(2), endpoint(3), endpoint(1)]);
        // The configured endpoint is not a discovered member, so calls start at the first one.
        assert_eq!(set.preferred(), endpoint(2));
    }

    // Goal: a preferred endpoint that is still a member stays preferred after discovery.
    #[test]
    fn discovery_keeps_a_listed_preference() {
        let mut set = EndpointSet::new(vec![endpoint(1), endpoint(2)]);
        set.answered(&endpoint(2));
        set.install_members(&[member(&["http://127.0.0.1:1", "http://127.0.0.1:2"])]);
        assert_eq!(set.preferred(), endpoint(2));
    }

    // Goal: discovery runs once at first, then only after a failover and the minimum interval.
    #[test]
    fn discovery_is_claimed_once_per_interval_after_failover() {
        let mut set = EndpointSet::new(vec![endpoint(1)]);
        let start = Instant::now();
        assert!(set.claim_discovery(start));
        assert!(!set.claim_discovery(start));
        set.failed_over();
        assert!(!set.claim_discovery(start));
        assert!(set.claim_discovery(start + DISCOVERY_INTERVAL_MIN));
        assert!(!set.claim_discovery(start + DISCOVERY_INTERVAL_MIN * 5));
    }
}
