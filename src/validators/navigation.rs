//! Navigating the list (CONTRACT §11's last row): `X-Total-Count`, the matches before `skip`
//! and `limit`, and an RFC 8288 `Link` with the relations `first`, `prev`, `next` and `last`.
//!
//! Targets are relative (RFC 8288 §3.1: resolved against the request's URI, so no `Host` is
//! trusted) and canonical: `/tasks?`, then `done` and `priority` when the request filtered on
//! them, in that order and spelled `true`/`false` and `low`/`medium`/`high` whatever the request
//! wrote, then `skip` and the effective `limit`. Two requests for the same page thus link to the
//! same URIs, which keeps the list page's tag (which covers `Link`) stable.

use crate::model::Priority;

/// Which page of the list a request asks for: filters, then paging. The same value is what the
/// storage backend lists by and what the page's `Link` is built from, so the two never disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListQuery {
    /// Only tasks with this `done`, if the request filtered on it.
    pub done: Option<bool>,
    /// Only tasks with this priority, if the request filtered on it.
    pub priority: Option<Priority>,
    /// Matches to skip before this page.
    pub skip: u64,
    /// The effective page size (100 when not given).
    pub limit: u64,
}

impl ListQuery {
    /// The `Link` value for a page of this query among `total` matches: `first` (skip 0);
    /// `prev` when `skip > 0` (max(skip − limit, 0)); `next` when `skip + limit < total`;
    /// `last` (max(total − limit, 0)). With `limit=0` only `first` and `last`: no step of 0
    /// leads anywhere.
    pub fn link(&self, total: u64) -> String {
        let mut relations = vec![(0, "first")];
        if self.limit > 0 {
            if self.skip > 0 {
                relations.push((self.skip.saturating_sub(self.limit), "prev"));
            }
            if self.skip.saturating_add(self.limit) < total {
                relations.push((self.skip + self.limit, "next"));
            }
        }
        relations.push((total.saturating_sub(self.limit), "last"));
        let links: Vec<String> = relations
            .into_iter()
            .map(|(skip, relation)| format!("<{}>; rel=\"{relation}\"", self.target(skip)))
            .collect();
        links.join(", ")
    }

    /// `/tasks?[done=..&][priority=..&]skip=N&limit=L`.
    fn target(&self, skip: u64) -> String {
        let mut target = String::from("/tasks?");
        if let Some(done) = self.done {
            target.push_str(if done { "done=true&" } else { "done=false&" });
        }
        if let Some(priority) = self.priority {
            target.push_str("priority=");
            target.push_str(priority_name(priority));
            target.push('&');
        }
        target.push_str(&format!("skip={skip}&limit={}", self.limit));
        target
    }
}

fn priority_name(priority: Priority) -> &'static str {
    match priority {
        Priority::Low => "low",
        Priority::Medium => "medium",
        Priority::High => "high",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query and its total, as the list handler has them.
    #[derive(Clone, Copy)]
    struct Navigation {
        done: Option<bool>,
        priority: Option<Priority>,
        skip: u64,
        limit: u64,
        total: u64,
    }

    impl Navigation {
        fn link(&self) -> String {
            let query = ListQuery {
                done: self.done,
                priority: self.priority,
                skip: self.skip,
                limit: self.limit,
            };
            query.link(self.total)
        }
    }

    fn page(skip: u64, limit: u64, total: u64) -> Navigation {
        Navigation {
            done: None,
            priority: None,
            skip,
            limit,
            total,
        }
    }

    /// The relations of `Link`, with each target's skip.
    fn relations(navigation: Navigation) -> Vec<(String, u64)> {
        navigation
            .link()
            .split(", ")
            .map(|link| {
                let (target, relation) = link.split_once(">; rel=").unwrap();
                let skip = target
                    .split("skip=")
                    .nth(1)
                    .unwrap()
                    .split('&')
                    .next()
                    .unwrap();
                (relation.trim_matches('"').to_owned(), skip.parse().unwrap())
            })
            .collect()
    }

    fn rels(pairs: &[(&str, u64)]) -> Vec<(String, u64)> {
        pairs.iter().map(|(r, s)| ((*r).to_owned(), *s)).collect()
    }

    #[test]
    fn the_contracts_example() {
        let navigation = Navigation {
            priority: Some(Priority::High),
            ..page(100, 100, 1000)
        };
        assert_eq!(
            navigation.link(),
            "</tasks?priority=high&skip=0&limit=100>; rel=\"first\", \
             </tasks?priority=high&skip=0&limit=100>; rel=\"prev\", \
             </tasks?priority=high&skip=200&limit=100>; rel=\"next\", \
             </tasks?priority=high&skip=900&limit=100>; rel=\"last\""
        );
    }

    #[test]
    fn filters_come_in_order_done_then_priority() {
        let both = Navigation {
            done: Some(false),
            priority: Some(Priority::Low),
            ..page(0, 10, 5)
        };
        assert_eq!(
            both.link(),
            "</tasks?done=false&priority=low&skip=0&limit=10>; rel=\"first\", \
             </tasks?done=false&priority=low&skip=0&limit=10>; rel=\"last\""
        );
        let done = Navigation {
            done: Some(true),
            ..page(0, 10, 5)
        };
        assert!(done
            .link()
            .starts_with("</tasks?done=true&skip=0&limit=10>"));
        let medium = Navigation {
            priority: Some(Priority::Medium),
            ..page(0, 10, 5)
        };
        assert!(medium.link().starts_with("</tasks?priority=medium&skip=0"));
    }

    #[test]
    fn which_relations_appear() {
        assert_eq!(
            relations(page(0, 100, 0)),
            rels(&[("first", 0), ("last", 0)])
        );
        assert_eq!(
            relations(page(0, 10, 25)),
            rels(&[("first", 0), ("next", 10), ("last", 15)])
        );
        assert_eq!(
            relations(page(10, 10, 25)),
            rels(&[("first", 0), ("prev", 0), ("next", 20), ("last", 15)])
        );
        // The last page: no next.
        assert_eq!(
            relations(page(20, 10, 25)),
            rels(&[("first", 0), ("prev", 10), ("last", 15)])
        );
        // skip + limit == total: no next.
        assert_eq!(
            relations(page(15, 10, 25)),
            rels(&[("first", 0), ("prev", 5), ("last", 15)])
        );
        // A skip that is not a multiple of the limit: prev is clamped at 0.
        assert_eq!(
            relations(page(3, 10, 25)),
            rels(&[("first", 0), ("prev", 0), ("next", 13), ("last", 15)])
        );
        // Past the end: prev steps back by one limit, no next.
        assert_eq!(
            relations(page(500, 10, 25)),
            rels(&[("first", 0), ("prev", 490), ("last", 15)])
        );
    }

    #[test]
    fn limit_zero_gives_only_first_and_last() {
        assert_eq!(
            relations(page(5, 0, 25)),
            rels(&[("first", 0), ("last", 25)])
        );
        assert!(page(5, 0, 25).link().contains("limit=0"));
    }

    #[test]
    fn huge_skips_do_not_overflow() {
        assert_eq!(
            relations(page(u64::MAX, 1000, 3)),
            rels(&[("first", 0), ("prev", u64::MAX - 1000), ("last", 0)])
        );
    }
}
