//! Prints the OpenAPI document: `cargo run -q -p contacts-http --example openapi > openapi.json`.

fn main() {
    println!("{}", contacts_http::openapi_json());
}
