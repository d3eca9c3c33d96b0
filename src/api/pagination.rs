//! Paginated lists in the shape of the spec (`003_…`): `data`, `links` {first, last, prev, next}
//! and `meta` {current_page, from, last_page, path, per_page, to, total}.

use super::error::ApiError;
use crate::fields::FieldErrors;
use actix_web::{HttpRequest, HttpResponse};
use utoipa::{IntoParams, ToSchema};

pub const DEFAULT_PER_PAGE: i64 = 15;
pub const MAX_PER_PAGE: i64 = 100;
/// Far beyond any real list; keeps offsets well inside the databases' integer range.
pub const MAX_PAGE: i64 = 1_000_000;

#[derive(Debug, Default, serde::Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// The page, from 1.
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    /// Items per page: 1–100, default 15.
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<i64>,
}

impl PageQuery {
    /// (page, per_page), or 422 naming the bad parameter.
    pub fn parse(&self) -> Result<(i64, i64), ApiError> {
        let page = self.page.unwrap_or(1);
        let per_page = self.per_page.unwrap_or(DEFAULT_PER_PAGE);
        if !(1..=MAX_PAGE).contains(&page) {
            return Err(ApiError::invalid(&FieldErrors::single(
                "page",
                format!("page must be between 1 and {MAX_PAGE}."),
            )));
        }
        if !(1..=MAX_PER_PAGE).contains(&per_page) {
            return Err(ApiError::invalid(&FieldErrors::single(
                "per_page",
                format!("per_page must be between 1 and {MAX_PER_PAGE}."),
            )));
        }
        Ok((page, per_page))
    }
}

#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct Links {
    pub first: String,
    pub last: String,
    pub prev: Option<String>,
    pub next: Option<String>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct Meta {
    pub current_page: i64,
    /// The position of the first item on this page (null when the page is empty).
    pub from: Option<i64>,
    pub last_page: i64,
    pub path: String,
    pub per_page: i64,
    pub to: Option<i64>,
    pub total: i64,
}

#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct Paginated<T> {
    pub data: Vec<T>,
    pub links: Links,
    pub meta: Meta,
}

impl<T> Paginated<T> {
    pub fn new(req: &HttpRequest, data: Vec<T>, page: i64, per_page: i64, total: i64) -> Paginated<T> {
        let (links, meta) = links_and_meta(req, data.len(), page, per_page, total, SizeInLinks::Always);
        Paginated { links, meta, data }
    }
}

/// Whether a page's links repeat `per_page`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeInLinks {
    Always,
    /// Only when it is not [`DEFAULT_PER_PAGE`] (spec 003's links carry `?page=N` alone).
    UnlessDefault,
}

/// The `links` and `meta` of page `page` holding `count` of `total` items, with absolute URLs
/// from the request's scheme and host.
pub fn links_and_meta(
    req: &HttpRequest,
    count: usize,
    page: i64,
    per_page: i64,
    total: i64,
    size: SizeInLinks,
) -> (Links, Meta) {
    let info = req.connection_info();
    let path = format!("{}://{}{}", info.scheme(), info.host(), req.path());
    let last_page = ((total + per_page - 1) / per_page).max(1);
    let size = match size {
        SizeInLinks::UnlessDefault if per_page == DEFAULT_PER_PAGE => String::new(),
        _ => format!("&per_page={per_page}"),
    };
    let url = |p: i64| format!("{path}?page={p}{size}");
    let count = i64::try_from(count).unwrap_or(i64::MAX);
    let from = (count > 0).then_some((page - 1) * per_page + 1);
    let links = Links {
        first: url(1),
        last: url(last_page),
        prev: (page > 1).then(|| url((page - 1).min(last_page))),
        next: (page < last_page).then(|| url(page + 1)),
    };
    let meta = Meta { current_page: page, from, last_page, path, per_page, to: from.map(|f| f + count - 1), total };
    (links, meta)
}

/// The answer to a list request: the query's page read (422 when out of range), that page
/// fetched as (items, total), each item shown as its resource.
pub async fn page_of<T, R, E, Fetched>(
    req: &HttpRequest,
    query: &PageQuery,
    fetch: impl FnOnce(i64, i64) -> Fetched,
    resource: impl FnMut(T) -> R,
) -> Result<HttpResponse, ApiError>
where
    Fetched: Future<Output = Result<(Vec<T>, i64), E>>,
    ApiError: From<E>,
    R: serde::Serialize,
{
    let (page, per_page) = query.parse()?;
    let (items, total) = fetch(page, per_page).await?;
    let data = items.into_iter().map(resource).collect();
    Ok(HttpResponse::Ok().json(Paginated::new(req, data, page, per_page, total)))
}

/// One page of a list held whole, and the list's length.
pub fn slice<T>(items: Vec<T>, page: i64, per_page: i64) -> (Vec<T>, i64) {
    let total = items.len() as i64;
    let skip = usize::try_from((page - 1).saturating_mul(per_page)).unwrap_or(usize::MAX);
    (items.into_iter().skip(skip).take(usize::try_from(per_page).unwrap_or(0)).collect(), total)
}
