//! Black-box tests of the DAV service: real requests through actix-web's test harness against
//! [`MemoryBackend`], reading answers as a client would.

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::{App, test};
use base64::Engine;

use crate::testing::MemoryBackend;
use crate::xml::Name;
use crate::xml::parse::{Element, parse_document};

mod cards;
mod collections;
mod compression;
mod discovery;
mod reports;

/// Ada's app password, as Basic credentials.
fn ada_basic() -> String {
    basic("ada", "ada-app-password")
}

fn basic(login: &str, password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{login}:{password}")))
}

/// A backend with two users, Ada and Bob, each with their default book.
fn backend() -> MemoryBackend {
    let backend = MemoryBackend::default();
    backend.add_user("ada", "ada@example.org", "ada-app-password", "ada-token");
    backend.add_user("bob", "bob@example.org", "bob-app-password", "bob-token");
    backend
}

async fn service(
    backend: MemoryBackend,
) -> impl Service<actix_http::Request, Response = ServiceResponse<impl MessageBody>, Error = actix_web::Error> {
    test::init_service(App::new().configure(crate::configure(backend))).await
}

/// A request as Ada, with a method, path, headers and body.
fn request(method: &str, path: &str) -> test::TestRequest {
    test::TestRequest::default()
        .method(Method::from_bytes(method.as_bytes()).unwrap())
        .uri(path)
        .insert_header(("Authorization", ada_basic()))
}

/// What came back: status, headers, body.
struct Answer {
    status: StatusCode,
    headers: actix_web::http::header::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }

    fn xml(&self) -> Element {
        parse_document(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }

    /// The responses of a multistatus, keyed by href.
    fn responses(&self) -> Vec<DavResponse> {
        let root = self.xml();
        assert_eq!(root.name, Name::dav("multistatus"), "{}", self.text());
        root.children.iter().filter(|c| c.name.is_dav("response")).map(DavResponse::from).collect()
    }

    fn response(&self, href: &str) -> DavResponse {
        self.responses().into_iter().find(|r| r.href == href).unwrap_or_else(|| panic!("no {href} in {}", self.text()))
    }

    /// The `DAV:error` condition's name.
    fn condition(&self) -> Name {
        let root = self.xml();
        assert_eq!(root.name, Name::dav("error"));
        root.children[0].name.clone()
    }
}

/// One `response` of a multistatus.
#[derive(Debug)]
struct DavResponse {
    href: String,
    /// A status without properties (deleted card, missing href).
    status: Option<String>,
    /// (status line, property element)
    props: Vec<(String, Element)>,
}

impl From<&Element> for DavResponse {
    fn from(e: &Element) -> Self {
        let href = e.child(&Name::dav("href")).unwrap().text.clone();
        let status = e.child(&Name::dav("status")).map(|s| s.text.clone());
        let mut props = Vec::new();
        for propstat in e.children.iter().filter(|c| c.name.is_dav("propstat")) {
            let status = propstat.child(&Name::dav("status")).unwrap().text.clone();
            for p in &propstat.child(&Name::dav("prop")).unwrap().children {
                props.push((status.clone(), p.clone()));
            }
        }
        Self { href, status, props }
    }
}

impl DavResponse {
    /// A property found with `200`.
    fn ok(&self, name: &Name) -> &Element {
        self.props
            .iter()
            .find(|(s, p)| s.contains(" 200 ") && &p.name == name)
            .map(|(_, p)| p)
            .unwrap_or_else(|| panic!("{name:?} not 200 in {self:?}"))
    }

    /// The status line a property was answered with.
    fn status_of(&self, name: &Name) -> Option<&str> {
        self.props.iter().find(|(_, p)| &p.name == name).map(|(s, _)| s.as_str())
    }

    /// The href inside a property (`current-user-principal`, `addressbook-home-set`…).
    fn href_in(&self, name: &Name) -> String {
        self.ok(name).child(&Name::dav("href")).unwrap().text.clone()
    }
}

async fn send<S, B>(app: &S, req: test::TestRequest) -> Answer
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let response = test::call_service(app, req.to_request()).await;
    let status = response.status();
    let headers = response.headers().clone();
    let body = test::read_body(response).await.to_vec();
    Answer { status, headers, body }
}

const PROPFIND_ETAGS: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<propfind xmlns="DAV:"><prop><resourcetype/><getcontenttype/><getetag/></prop></propfind>"#;

fn vcard(uid: &str, name: &str) -> String {
    format!("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\nN:{name};;;;\r\nEND:VCARD\r\n")
}
