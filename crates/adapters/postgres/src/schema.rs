//! Diesel's view of the tables created by `migrations/`.

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        email -> Text,
        password_hash -> Text,
        avatar -> Nullable<Text>,
        role -> Text,
        confirmed -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        token_version -> BigInt,
        ended_sessions -> Array<Text>,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        token_hash -> Text,
        expires_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
        replaced_by -> Nullable<BigInt>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    password_reset_tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        token_hash -> Text,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    contacts (id) {
        id -> BigInt,
        user_id -> BigInt,
        first_name -> Text,
        last_name -> Text,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        birthday -> Nullable<Date>,
        additional_info -> Nullable<Text>,
        birthday_md -> Nullable<SmallInt>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        book_id -> BigInt,
        uid -> Text,
        href -> Text,
        card -> Text,
        emails -> Json,
        phones -> Json,
        rest_email -> Nullable<Text>,
        card_dirty -> Bool,
    }
}

diesel::table! {
    address_books (id) {
        id -> BigInt,
        user_id -> BigInt,
        name -> Text,
        display_name -> Text,
        created_at -> Timestamptz,
        sync_seq -> BigInt,
        sync_floor -> BigInt,
        description -> Text,
    }
}

diesel::table! {
    card_changes (book_id, href) {
        book_id -> BigInt,
        href -> Text,
        seq -> BigInt,
        deleted -> Bool,
        changed_at -> Timestamptz,
    }
}

diesel::table! {
    client_properties (id) {
        id -> BigInt,
        user_id -> BigInt,
        book_id -> Nullable<BigInt>,
        namespace -> Text,
        name -> Text,
        value -> Text,
        contact_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    app_passwords (id) {
        id -> BigInt,
        user_id -> BigInt,
        name -> Text,
        fingerprint -> Text,
        created_at -> Timestamptz,
        last_used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    /// Each user's number of contacts, kept by triggers on `contacts` (issue 15).
    contact_counts (user_id) {
        user_id -> BigInt,
        n -> BigInt,
        version -> BigInt,
        search_version -> BigInt,
        change_version -> BigInt,
    }
}

diesel::joinable!(contacts -> users (user_id));
diesel::joinable!(contacts -> address_books (book_id));
diesel::joinable!(address_books -> users (user_id));
diesel::joinable!(app_passwords -> users (user_id));
diesel::joinable!(card_changes -> address_books (book_id));
diesel::joinable!(refresh_tokens -> users (user_id));
diesel::joinable!(password_reset_tokens -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(
    users,
    contacts,
    address_books,
    card_changes,
    client_properties,
    app_passwords,
    contact_counts,
    refresh_tokens,
    password_reset_tokens
);

diesel::define_sql_function! {
    /// PostgreSQL's `lower(text)`, used for case-insensitive comparisons that match the
    /// unique indexes on `lower(email)` and `lower(username)`.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}
