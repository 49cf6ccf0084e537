//! List endpoints as lazy streams of items: a page is fetched only when the items of the previous
//! one have been taken, following Paystack's `meta.page`/`meta.pageCount` or, on endpoints paged
//! by cursor, `meta.next`.

use futures::{Stream, StreamExt, TryStreamExt};
use reqwest::Method;
use serde::de::DeserializeOwned;

use crate::client::{Client, ListQuery, Page};
use crate::error::Error;

/// One list endpoint and its filters, advanced page by page.
#[derive(Debug, Clone)]
pub(crate) struct Listing {
    endpoint: &'static str,
    segments: Vec<String>,
    filters: Vec<(&'static str, String)>,
    per_page: Option<u32>,
    page: Option<u32>,
    cursor: Option<String>,
    by_cursor: bool,
    /// Why the listing cannot be asked for (a blank path parameter): the stream's only item.
    invalid: Option<String>,
}

impl Listing {
    /// `endpoint` is the label errors carry; `segments` the path.
    pub(crate) fn new(endpoint: &'static str, segments: &[&str]) -> Self {
        Listing {
            endpoint,
            segments: segments.iter().map(|s| s.to_string()).collect(),
            filters: Vec::new(),
            per_page: None,
            page: None,
            cursor: None,
            by_cursor: false,
            invalid: None,
        }
    }

    /// Refuses the listing when `value`, a path parameter, is blank: the path would name
    /// another endpoint.
    pub(crate) fn require(mut self, what: &str, value: &str) -> Self {
        if let Err(crate::Error::InvalidRequest(why)) = crate::transactions::non_empty(what, value) {
            self.invalid = Some(why);
        }
        self
    }

    /// Paging and the common filters of a [`ListQuery`].
    pub(crate) fn query(mut self, query: &ListQuery) -> Self {
        self.per_page = query.per_page;
        self.page = query.page;
        self.filter("status", query.status.as_deref())
            .filter("from", query.from.as_deref())
            .filter("to", query.to.as_deref())
    }

    /// Sets the page size only (endpoints without the common filters).
    pub(crate) fn per_page(mut self, per_page: Option<u32>) -> Self {
        self.per_page = per_page;
        self
    }

    /// Adds `name=value` when there is a value.
    pub(crate) fn filter(mut self, name: &'static str, value: Option<&str>) -> Self {
        if let Some(v) = value {
            self.filters.push((name, v.to_string()));
        }
        self
    }

    /// Pages by `meta.next` instead of page numbers.
    pub(crate) fn by_cursor(mut self, per_page: Option<u32>) -> Self {
        self.by_cursor = true;
        self.per_page = per_page;
        self
    }

    fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = self.filters.clone();
        if let Some(n) = self.per_page {
            pairs.push(("perPage", n.to_string()));
        }
        if self.by_cursor {
            if let Some(c) = &self.cursor {
                pairs.push(("next", c.clone()));
            }
        } else if let Some(n) = self.page {
            pairs.push(("page", n.to_string()));
        }
        pairs
    }

    /// The listing of the page after `page`, or `None` when `page` is the last.
    fn next<T>(mut self, page: &Page<T>) -> Option<Listing> {
        if page.items.is_empty() {
            return None;
        }
        if self.by_cursor {
            let next = page
                .meta
                .next
                .as_deref()
                .map(str::trim)
                .filter(|c| !c.is_empty())?;
            // A cursor that does not move would fetch the same page for ever.
            if self.cursor.as_deref() == Some(next) {
                return None;
            }
            self.cursor = Some(next.to_string());
            return Some(self);
        }
        let query = ListQuery {
            per_page: self.per_page,
            page: self.page,
            ..ListQuery::default()
        };
        self.page = page.next_query(&query)?.page;
        Some(self)
    }
}

impl Client {
    /// One page of `listing`.
    pub(crate) async fn listing_page<T: DeserializeOwned>(
        &self,
        listing: &Listing,
    ) -> Result<Page<T>, Error> {
        if let Some(why) = &listing.invalid {
            return Err(Error::InvalidRequest(why.clone()));
        }
        let segments: Vec<&str> = listing.segments.iter().map(String::as_str).collect();
        let request = self.http_request(Method::GET, &segments).query(&listing.pairs());
        let (items, meta) = self.send_enveloped::<Vec<T>>(listing.endpoint, request).await?;
        Ok(Page { items, meta })
    }

    /// Every item of `listing`, fetched a page at a time as the stream is polled. The stream
    /// owns a clone of the client, so it can outlive the borrow and move to another task. An
    /// error ends it.
    pub(crate) fn items<T>(
        &self,
        listing: Listing,
    ) -> impl Stream<Item = Result<T, Error>> + Send + Unpin + 'static
    where
        T: DeserializeOwned + Send + 'static,
    {
        let client = self.clone();
        futures::stream::unfold(Some(listing), move |state| {
            let client = client.clone();
            async move {
                let listing = state?;
                match client.listing_page::<T>(&listing).await {
                    Ok(page) => {
                        let next = listing.next(&page);
                        Some((Ok(page), next))
                    }
                    Err(e) => Some((Err(e), None)),
                }
            }
        })
        .map_ok(|page: Page<T>| futures::stream::iter(page.items.into_iter().map(Ok)))
        .try_flatten()
        .boxed()
    }
}
