//! The glue between the generated exports and a [`Connector`]: one
//! connector value per instance, opened on the first call.

use crate::bindings::provisio::connector::types::{CountRequest, SearchRequest};
use crate::filter;
use crate::{Config, Connector, Error, Page, Query};
use std::any::Any;
use std::cell::RefCell;

thread_local! {
    // A component instance is single-threaded, so this is "the" connector of
    // the instance. `Any` because a thread-local cannot be generic.
    static INSTANCE: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

/// Runs `f` on this instance's connector, opening it first if needed. A
/// failed open is not cached: the next call tries again, so fixing the
/// target (not the configuration, which an instance never changes) heals it.
pub fn with<C: Connector, R>(f: impl FnOnce(&mut C) -> Result<R, Error>) -> Result<R, Error> {
    INSTANCE.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(Box::new(C::open(&Config::new())?));
        }
        let connector = slot
            .as_mut()
            .and_then(|b| b.downcast_mut::<C>())
            .expect("export_connector! was called for two connector types");
        f(connector)
    })
}

/// Parses the filter, then searches.
pub fn search<C: Connector>(request: SearchRequest) -> Result<Page, Error> {
    let filter = request.filter.as_deref().map(filter::parse).transpose()?;
    if request.page.size == 0 {
        return Err(Error::invalid("page size must be at least 1"));
    }
    let query = Query {
        class: request.class,
        filter,
        page: request.page,
        attributes: request.attributes,
    };
    with::<C, _>(|c| c.search(query))
}

/// Parses the filter, then counts.
pub fn count<C: Connector>(request: CountRequest) -> Result<u64, Error> {
    let filter = request.filter.as_deref().map(filter::parse).transpose()?;
    with::<C, _>(|c| c.count(&request.class, filter.as_ref()))
}
