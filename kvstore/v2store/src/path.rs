//! Key paths: cleaning, splitting and the ancestor/descendant relation.
//!
//! Owns: the rules for what a clean path is (`/`, `/a`, `/a/b`: absolute, no empty, `.` or
//! `..` segments, no trailing slash). Depends on nothing else in the crate.

use std::borrow::Cow;

/// The root directory's path.
pub(crate) const ROOT: &str = "/";

/// etcd's `path.Clean(path.Join("/", p))`, applied to every path a caller hands the store. The
/// HTTP layer already cleans paths, so this is almost always a borrow; it keeps a malformed
/// path arriving through the log from creating nodes with empty names.
pub(crate) fn clean(path: &str) -> Cow<'_, str> {
    if is_clean(path) {
        return Cow::Borrowed(path);
    }
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            name => segments.push(name),
        }
    }
    if segments.is_empty() {
        return Cow::Borrowed(ROOT);
    }
    let mut cleaned = String::with_capacity(path.len());
    for segment in segments {
        cleaned.push('/');
        cleaned.push_str(segment);
    }
    Cow::Owned(cleaned)
}

/// True when `clean` would return `path` unchanged.
pub(crate) fn is_clean(path: &str) -> bool {
    if path == ROOT {
        return true;
    }
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    rest.split('/')
        .all(|segment| !segment.is_empty() && segment != "." && segment != "..")
}

/// The segments of a clean path with the prefix ending at each: `/a/b` gives `("/a", "a")`,
/// `("/a/b", "b")`. The root has none.
pub(crate) fn components(path: &str) -> impl Iterator<Item = (&str, &str)> {
    let mut start = if path == ROOT { path.len() } else { 0 };
    std::iter::from_fn(move || {
        if start >= path.len() {
            return None;
        }
        let rest = &path[start + 1..];
        let end = start + 1 + rest.find('/').unwrap_or(rest.len());
        let item = (&path[..end], &path[start + 1..end]);
        start = end;
        Some(item)
    })
}

/// Parent path and last segment of a clean, non-root path: `/a/b` gives `("/a", "b")`, `/a`
/// gives `("/", "a")`.
pub(crate) fn split_last(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(0) | None => (ROOT, path.trim_start_matches('/')),
        Some(slash) => (&path[..slash], &path[slash + 1..]),
    }
}

/// `parent` + `/` + `name`, without doubling the root's slash.
pub(crate) fn child_path(parent: &str, name: &str) -> String {
    if parent == ROOT {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

/// The proper ancestors of a clean path, root first: `/a/b/c` gives `/`, `/a`, `/a/b`.
pub(crate) fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    let root = (path != ROOT).then_some(ROOT);
    let inner = path
        .match_indices('/')
        .skip(1)
        .map(move |(slash, _)| &path[..slash]);
    root.into_iter().chain(inner)
}

/// True when `path` lies strictly below `ancestor` (`/a/b` is below `/a`, `/ab` is not).
pub(crate) fn is_below(path: &str, ancestor: &str) -> bool {
    if ancestor == ROOT {
        return path.len() > 1 && path.starts_with('/');
    }
    path.starts_with(ancestor) && path.as_bytes().get(ancestor.len()) == Some(&b'/')
}

/// etcd's hidden nodes: the node's own name starts with `_`.
pub(crate) fn is_hidden_name(name: &str) -> bool {
    name.starts_with('_')
}

/// True when a segment of `path` below `ancestor` is hidden: etcd's `isHidden(watchPath,
/// keyPath)` in `watcher_hub.go`, which keeps `/w/_h/x` from a watch on `/w`.
pub(crate) fn has_hidden_segment_below(path: &str, ancestor: &str) -> bool {
    let below = if ancestor == ROOT {
        path
    } else {
        path.get(ancestor.len()..).unwrap_or("")
    };
    below.split('/').any(is_hidden_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: clean mirrors Go's path.Clean(path.Join("/", p)) on the shapes a caller could send.
    #[test]
    fn clean_table() {
        let cases = [
            ("/", "/"),
            ("", "/"),
            ("/a", "/a"),
            ("a", "/a"),
            ("/a/", "/a"),
            ("//a//b", "/a/b"),
            ("/a/./b", "/a/b"),
            ("/a/../b", "/b"),
            ("/../a", "/a"),
            ("/a/b/..", "/a"),
        ];
        for (input, expected) in cases {
            assert_eq!(clean(input), expected, "clean({input:?})");
            assert!(is_clean(&clean(input)), "clean({input:?}) is clean");
        }
    }

    // Goal: the splitting helpers agree with each other on root, one and two segments.
    #[test]
    fn splitting_table() {
        assert_eq!(components("/").count(), 0);
        let parts: Vec<_> = components("/a/bc").collect();
        assert_eq!(parts, vec![("/a", "a"), ("/a/bc", "bc")]);
        assert_eq!(split_last("/a"), ("/", "a"));
        assert_eq!(split_last("/a/bc"), ("/a", "bc"));
        assert_eq!(child_path("/", "x"), "/x");
        assert_eq!(child_path("/a", "x"), "/a/x");
        assert_eq!(ancestors("/").count(), 0);
        assert_eq!(ancestors("/a").collect::<Vec<_>>(), vec!["/"]);
        assert_eq!(
            ancestors("/a/b/c").collect::<Vec<_>>(),
            vec!["/", "/a", "/a/b"]
        );
    }

    // Goal: below and hidden relations respect segment boundaries.
    #[test]
    fn relation_table() {
        assert!(is_below("/a", "/"));
        assert!(!is_below("/", "/"));
        assert!(is_below("/a/b", "/a"));
        assert!(!is_below("/ab", "/a"));
        assert!(!is_below("/a", "/a"));
        assert!(has_hidden_segment_below("/w/_h/x", "/w"));
        assert!(has_hidden_segment_below("/_h", "/"));
        assert!(!has_hidden_segment_below("/_w/x", "/_w"));
        assert!(!has_hidden_segment_below("/w/x_y", "/w"));
    }
}
