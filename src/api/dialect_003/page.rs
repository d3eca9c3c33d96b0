//! The dialect's pages: `links` and `meta` exactly as spec 003 shows them. Links carry only
//! `?page=N`, as in the spec's example, plus `&per_page=N` when the page size is not the
//! default (so following `next` keeps the size asked for).

use super::error::DialectError;
use super::resource::DialectDestination;
use crate::api::pagination::{DEFAULT_PER_PAGE, Links, MAX_PAGE, MAX_PER_PAGE, Meta, SizeInLinks, links_and_meta};
use actix_web::HttpRequest;
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Default, serde::Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DialectPageQuery {
    /// The page, from 1.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000000)]
    pub page: Option<String>,
    /// Items per page: 1–100, default 15.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub per_page: Option<String>,
}

impl DialectPageQuery {
    /// (page, per_page), or 422 naming the parameter.
    pub fn parse(&self) -> Result<(i64, i64), DialectError> {
        let read = |name: &str, value: &Option<String>, default: i64, max: i64| match value.as_deref().map(str::trim) {
            None | Some("") => Ok(default),
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| (name.to_owned(), format!("{name} must be a whole number from 1 to {max}."))),
        };
        let page = read("page", &self.page, 1, MAX_PAGE);
        let per_page = read("per_page", &self.per_page, DEFAULT_PER_PAGE, MAX_PER_PAGE);
        match (page, per_page) {
            (Ok(page), Ok(per_page)) => Ok((page, per_page)),
            (page, per_page) => {
                Err(DialectError::invalid([page.err(), per_page.err()].into_iter().flatten().collect()))
            }
        }
    }
}

#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct DialectPage {
    pub data: Vec<DialectDestination>,
    pub links: Links,
    pub meta: Meta,
}

impl DialectPage {
    pub fn new(req: &HttpRequest, data: Vec<DialectDestination>, page: i64, per_page: i64, total: i64) -> DialectPage {
        let (links, meta) = links_and_meta(req, data.len(), page, per_page, total, SizeInLinks::UnlessDefault);
        DialectPage { data, links, meta }
    }
}
