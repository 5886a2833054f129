//! Listing resources: what the service supports (read once from
//! `/ServiceProviderConfig`), filters as the service takes them, and paging
//! by `startIndex` or by cursor (RFC 9865).

use crate::client::Method;
use crate::mapping::{Path, encode_query};
use crate::{Class, ScimConnector};
use provisio_sdk::filter::{
    AttrExp, AttrPath, CompValue, CompareOp, Filter, Operands, ValFilter, ValuePath,
};
use provisio_sdk::{Error, Page};
use serde_json::Value as Json;

/// What the service says it supports.
#[derive(Clone, Copy)]
pub(crate) struct Features {
    pub(crate) patch: bool,
    pub(crate) etag: bool,
    /// Pages by cursor (RFC 9865 `pagination.cursor`).
    pub(crate) cursor: bool,
    /// Pages by `startIndex` (RFC 7644; true unless `pagination.index` says not).
    pub(crate) index: bool,
    /// Sorts lists (`sort.supported`).
    pub(crate) sort: bool,
}

/// The order of `startIndex` pages where the service sorts: by creation,
/// so a resource created while a search pages goes after every page
/// already read instead of shifting them (which would answer one resource
/// twice). Unsorted, a service's order is its own (often by name).
pub(crate) const CREATION_ORDER: &str = "&sortBy=meta.created&sortOrder=ascending";

/// Where a list request starts.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Paging<'a> {
    /// `startIndex`, 1-based.
    Index(u64),
    /// A cursor from `nextCursor`, or none for the first page.
    Cursor(Option<&'a str>),
}

/// One page of a list response.
pub(crate) struct Listed {
    pub(crate) resources: Vec<Json>,
    pub(crate) total: u64,
    pub(crate) next_cursor: Option<String>,
}

/// Search cookies of cursor paging: `c:<count>:<cursor>` (a cursor is only
/// valid with the `count` it was issued for).
pub(crate) const CURSOR_COOKIE: &str = "c:";

impl ScimConnector {
    pub(crate) fn features(&mut self) -> Result<Features, Error> {
        if let Some(f) = self.features {
            return Ok(f);
        }
        let config = self
            .scim
            .send(Method::Get, "/ServiceProviderConfig", None, None)?
            .body;
        let supported = |key: &str| {
            config
                .get(key)
                .and_then(|v| v.get("supported"))
                .and_then(Json::as_bool)
                .unwrap_or(false)
        };
        let pagination = |key: &str| {
            config
                .get("pagination")
                .and_then(|p| p.get(key))
                .and_then(Json::as_bool)
        };
        let features = Features {
            patch: supported("patch"),
            etag: supported("etag"),
            cursor: pagination("cursor").unwrap_or(false),
            index: pagination("index").unwrap_or(true),
            sort: supported("sort"),
        };
        self.features = Some(features);
        Ok(features)
    }

    pub(crate) fn fetch(&self, class: &Class, uid: &str) -> Result<(Json, Option<String>), Error> {
        let answer = self.scim.send(
            Method::Get,
            &format!("{}/{}", class.endpoint, encode_query(uid)),
            None,
            None,
        )?;
        let etag = answer.etag.or_else(|| {
            answer
                .body
                .pointer("/meta/version")
                .and_then(Json::as_str)
                .map(str::to_owned)
        });
        Ok((answer.body, etag))
    }

    /// The filter with Provisio attribute names turned into SCIM paths.
    pub(crate) fn scim_filter(&self, class: &Class, filter: &Filter) -> Result<Filter, Error> {
        // A mapped attribute as a filter names it, with the element
        // selector of a path like `emails[type eq "work"].value`.
        let map_path = |path: &AttrPath| -> Result<(AttrPath, Option<(String, String)>), Error> {
            let name = match &path.sub_attr {
                Some(sub) => format!("{}.{sub}", path.name),
                None => path.name.clone(),
            };
            let scim = match name.to_ascii_lowercase().as_str() {
                "uid" | "id" => Path::parse("id"),
                "name" => Path::parse(class.naming),
                "enable" if class.name == "account" => Path::parse("active"),
                // Members are complex values: compare their `value`
                // (RFC 7644 §3.4.2.2), not the attribute itself.
                _ if Self::is_members(class, &name) => Path::parse("members.value"),
                _ => match self.path(class, &name) {
                    Ok(path) => path,
                    // Not a Provisio attribute: a SCIM path (`nickName`,
                    // `meta.created`, an extension's URN), which the
                    // service checks against its own schema.
                    Err(_) => return Ok((path.clone(), None)),
                },
            };
            let (uri, name, sub_attr) = scim.filter_path();
            Ok((
                AttrPath {
                    uri,
                    name,
                    sub_attr,
                },
                scim.selector.clone(),
            ))
        };
        // `emails[type eq "work"].value co "x"` is, as a filter,
        // `emails[type eq "work" and value co "x"]`: the selector stays.
        let expression =
            |path: &AttrPath, make: &dyn Fn(AttrPath) -> AttrExp| -> Result<Filter, Error> {
                let (mapped, selector) = map_path(path)?;
                let Some((key, wanted)) = selector else {
                    return Ok(Filter::Attr(make(mapped)));
                };
                let element = AttrPath {
                    uri: None,
                    name: mapped
                        .sub_attr
                        .clone()
                        .unwrap_or_else(|| "value".to_owned()),
                    sub_attr: None,
                };
                let select = ValFilter::Attr(AttrExp::Comparison(
                    AttrPath {
                        uri: None,
                        name: key,
                        sub_attr: None,
                    },
                    CompareOp::Eq,
                    CompValue::Str(wanted),
                ));
                Ok(Filter::ValuePath(ValuePath {
                    attr: AttrPath {
                        uri: mapped.uri,
                        name: mapped.name,
                        sub_attr: None,
                    },
                    filter: Box::new(ValFilter::And(
                        Operands::new(vec![select, ValFilter::Attr(make(element))])
                            .map_err(|e| Error::invalid(e.to_string()))?,
                    )),
                }))
            };
        Ok(match filter {
            Filter::Attr(AttrExp::Present(p)) => expression(p, &|p| AttrExp::Present(p))?,
            Filter::Attr(AttrExp::Comparison(p, op, v)) => {
                expression(p, &|p| AttrExp::Comparison(p, op.clone(), v.clone()))?
            }
            Filter::ValuePath(_) => {
                return Err(Error::invalid(
                    "filter: value paths are not translated; use mapped attributes",
                ));
            }
            Filter::Not(inner) => Filter::Not(Box::new(self.scim_filter(class, inner)?)),
            Filter::And(operands) => {
                let mapped = operands
                    .iter()
                    .map(|f| self.scim_filter(class, f))
                    .collect::<Result<Vec<_>, _>>()?;
                Filter::And(Operands::new(mapped).map_err(|e| Error::invalid(e.to_string()))?)
            }
            Filter::Or(operands) => {
                let mapped = operands
                    .iter()
                    .map(|f| self.scim_filter(class, f))
                    .collect::<Result<Vec<_>, _>>()?;
                Filter::Or(Operands::new(mapped).map_err(|e| Error::invalid(e.to_string()))?)
            }
        })
    }

    pub(crate) fn list(
        &self,
        class: &Class,
        filter: Option<String>,
        paging: Paging<'_>,
        count: u32,
        extra: &str,
    ) -> Result<Listed, Error> {
        let mut query = match paging {
            Paging::Index(start) => format!("?startIndex={start}&count={count}{extra}"),
            Paging::Cursor(cursor) => format!(
                "?cursor={}&count={count}{extra}",
                encode_query(cursor.unwrap_or_default())
            ),
        };
        if let Some(f) = filter {
            query.push_str(&format!("&filter={}", encode_query(&f)));
        }
        let body = self
            .scim
            .send(
                Method::Get,
                &format!("{}{query}", class.endpoint),
                None,
                None,
            )?
            .body;
        let total = body.get("totalResults").and_then(Json::as_u64).unwrap_or(0);
        let resources = body
            .get("Resources")
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default();
        let next_cursor = body
            .get("nextCursor")
            .and_then(Json::as_str)
            .filter(|c| !c.is_empty())
            .map(str::to_owned);
        Ok(Listed {
            resources,
            total,
            next_cursor,
        })
    }

    /// One page by cursor; the cookie carries the next cursor and its count.
    pub(crate) fn cursor_page(
        &self,
        class: &Class,
        filter: Option<String>,
        cursor: Option<&str>,
        count: u32,
        attributes: &[String],
    ) -> Result<Page, Error> {
        let listed = self.list(class, filter, Paging::Cursor(cursor), count, "")?;
        let objects = listed
            .resources
            .iter()
            .map(|r| self.object(class, r, attributes))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page {
            cookie: listed
                .next_cursor
                .map(|next| format!("{CURSOR_COOKIE}{count}:{next}")),
            objects,
            remaining: None,
        })
    }

    /// The first page, by index where the service pages by index.
    pub(crate) fn first_page(&mut self) -> Result<Paging<'static>, Error> {
        Ok(if self.features()?.index {
            Paging::Index(1)
        } else {
            Paging::Cursor(None)
        })
    }
}
