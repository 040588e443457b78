//! Guards of the indexes that keep listing, search, deep pages and birthdays cheap in big books
//! (issue 15): on a 50,000-contact book, the plans of the adapter's own queries use them, and
//! the stored total agrees with the rows whichever way they come and go.

use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel_async::SimpleAsyncConnection;
use serde_json::Value;

use super::tests::{Book, book};
use super::*;
use crate::test_fixtures::{create_user, execute_sql, expect_conflict, migrated_db, new_contact};

/// The rows of the big book.
const BIG: i64 = 50_000;

/// `EXPLAIN (FORMAT JSON)` of a query, run with the query's own bind values; with `ANALYZE`
/// too when `.1` is set, so the plan tells which nodes ran.
struct Explain<Q>(Q, bool);

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for Explain<Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(if self.1 { "EXPLAIN (ANALYZE, FORMAT JSON) " } else { "EXPLAIN (FORMAT JSON) " });
        self.0.walk_ast(out.reborrow())
    }
}

impl<Q> QueryId for Explain<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q> Query for Explain<Q> {
    type SqlType = diesel::sql_types::Json;
}

/// Every plan node as `(node type, index name or "")`.
fn nodes(plan: &Value, into: &mut Vec<(String, String)>) {
    match plan {
        Value::Array(items) => items.iter().for_each(|i| nodes(i, into)),
        Value::Object(map) => {
            if let Some(Value::String(kind)) = map.get("Node Type") {
                let index = map.get("Index Name").and_then(Value::as_str).unwrap_or_default();
                let relation = map.get("Relation Name").and_then(Value::as_str).unwrap_or_default();
                into.push((kind.clone(), if index.is_empty() { relation.to_owned() } else { index.to_owned() }));
            }
            map.values().for_each(|v| nodes(v, into));
        }
        _ => {}
    }
}

/// The owner's book with `BIG` contacts (and a neighbour with 20), vacuumed and analysed.
async fn big_book() -> Book {
    let book = book().await;
    let neighbour = create_user(&book.db, "small").await;
    // A statement (a transaction) of at most 1,000 rows, as imports write theirs (500): every
    // row bumps its book's change number, and a transaction's updates of one row each follow
    // the chain of the ones before (one statement of 50,000 took two minutes).
    let chunks = (0..BIG).step_by(1_000).map(|start| (book.owner, start + 1, (start + 1_000).min(BIG)));
    for (user, first, last) in chunks.chain([(neighbour, 1, 20)]) {
        let sql = format!(
            "INSERT INTO contacts (user_id, book_id, uid, href, card, first_name, last_name, email, phone, \
             birthday, birthday_md) \
             SELECT {u}, b.id, 'u' || g, 'u' || g || '.vcf', 'BEGIN:VCARD', 'First' || g, 'Last' || md5(g::text), \
             'c' || g || '@example.org', '+1 555 ' || g, date '1980-01-01' + g % 365, \
             ((1 + g % 12) * 100 + 1 + g % 28)::smallint \
             FROM address_books b, generate_series({first}, {last}) g WHERE b.user_id = {u}",
            u = user.0
        );
        execute_sql(&book.db, &sql).await.expect("fill the book");
    }
    execute_sql(&book.db, "VACUUM ANALYZE contacts, contact_search").await.expect("vacuum");
    book
}

/// How many subqueries of a plan run once a statement (InitPlans).
fn init_plans(plan: &Value) -> usize {
    match plan {
        Value::Array(items) => items.iter().map(init_plans).sum(),
        Value::Object(map) => {
            let own = map.get("Parent Relationship").and_then(Value::as_str) == Some("InitPlan");
            usize::from(own) + map.values().map(init_plans).sum::<usize>()
        }
        _ => 0,
    }
}

/// Every plan node as `(node type, alias, index name or "", times it ran)`: the plan of an
/// `EXPLAIN ANALYZE`.
fn runs(plan: &Value, into: &mut Vec<(String, String, String, u64)>) {
    match plan {
        Value::Array(items) => items.iter().for_each(|i| runs(i, into)),
        Value::Object(map) => {
            if let Some(Value::String(kind)) = map.get("Node Type") {
                let text = |key: &str| map.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
                let loops = map.get("Actual Loops").and_then(Value::as_u64).unwrap_or_default();
                into.push((kind.clone(), text("Alias"), text("Index Name"), loops));
            }
            map.values().for_each(|v| runs(v, into));
        }
        _ => {}
    }
}

/// Every `Index Cond` of a plan.
fn index_conditions(plan: &Value) -> Vec<String> {
    match plan {
        Value::Array(items) => items.iter().flat_map(index_conditions).collect(),
        Value::Object(map) => {
            let own = map.get("Index Cond").and_then(Value::as_str).map(str::to_owned);
            own.into_iter().chain(map.values().flat_map(index_conditions)).collect()
        }
        _ => Vec::new(),
    }
}

impl Book {
    async fn explain<Q: QueryFragment<Pg> + Send>(&self, query: Q) -> Value {
        let mut conn = self.db.conn().await.unwrap();
        Explain(query, false).get_result(&mut conn).await.expect("explain")
    }

    /// The nodes of the query's plan as it ran (see [`runs`]).
    async fn run<Q: QueryFragment<Pg> + Send>(&self, query: Q) -> Vec<(String, String, String, u64)> {
        let mut conn = self.db.conn().await.unwrap();
        let plan: Value = Explain(query, true).get_result(&mut conn).await.expect("explain analyze");
        let mut all = Vec::new();
        runs(&plan, &mut all);
        all
    }

    /// The nodes of `query`'s generic plan as it ran (see [`runs`]): the plan a pooled
    /// connection keeps for a statement after five executions, made without its values.
    /// `types` and `values` are its parameters' SQL types and values, in order.
    async fn run_generic<Q: QueryFragment<Pg>>(
        &self,
        query: Q,
        types: &str,
        values: &str,
    ) -> Vec<(String, String, String, u64)> {
        let sql = diesel::debug_query::<Pg, _>(&query).to_string();
        let sql = sql.split(" -- binds:").next().expect("the statement");
        let mut conn = self.db.conn().await.unwrap();
        let prepare = format!("SET plan_cache_mode = force_generic_plan; PREPARE generic({types}) AS {sql}");
        conn.batch_execute(&prepare).await.expect("prepare");
        let execute = diesel::sql_query(format!("EXECUTE generic({}, {values})", self.owner.0));
        let plan: Value = Explain(execute, true).get_result(&mut conn).await.expect("explain analyze");
        conn.batch_execute("DEALLOCATE generic; RESET plan_cache_mode").await.expect("deallocate");
        let mut all = Vec::new();
        runs(&plan, &mut all);
        all
    }

    async fn plan<Q: QueryFragment<Pg> + Send>(&self, query: Q) -> Vec<(String, String)> {
        let plan = self.explain(query).await;
        let mut all = Vec::new();
        nodes(&plan, &mut all);
        assert!(
            !all.iter().any(|(kind, on)| kind == "Seq Scan" && on == "contacts"),
            "no query may read the whole contacts table: {all:?}"
        );
        all
    }
}

fn uses(plan: &[(String, String)], kind: &str, index: &str) -> bool {
    plan.iter().any(|(k, i)| k == kind && i == index)
}

fn q(needle: &str) -> ContactFilter {
    ContactFilter { q: Some(needle.to_owned()), ..ContactFilter::default() }
}

#[tokio::test]
async fn big_book_queries_use_their_indexes() {
    let book = big_book().await;

    // REST's email rule against every contact (the `contacts_rest_email_free` trigger): its
    // lookup of the owner's contacts with one email goes by index, and a taken email is refused.
    let lookup = diesel::sql_query(
        "SELECT 1 FROM contacts c WHERE c.user_id = $1 AND lower(c.email) = lower($2) AND c.id <> $3",
    )
    .bind::<BigInt, _>(book.owner.0)
    .bind::<Text, _>("C4711@example.org")
    .bind::<BigInt, _>(0_i64);
    let plan = book.plan(lookup).await;
    assert!(plan.iter().any(|(_, index)| index == "contacts_user_lower_email_idx"), "{plan:?}");
    let taken = book.repo.create(book.owner, new_contact("Rest", "Made", "C4711@example.org")).await;
    assert_eq!(expect_conflict(taken), contacts_domain::Conflict::ContactEmailTaken);

    // Whole-book pages, first and deep: an index-only walk of (user_id, id), no window count.
    for skip in [0, 45_000] {
        let plan = book.plan(stamped_page(book.owner, Page { skip, limit: 20 })).await;
        assert!(uses(&plan, "Index Only Scan", "contacts_user_id_idx"), "skip {skip}: {plan:?}");
        assert!(!plan.iter().any(|(k, _)| k == "WindowAgg"), "skip {skip}: the total is stored: {plan:?}");
        assert!(uses(&plan, "Index Scan", "contact_counts_pkey"), "skip {skip}: {plan:?}");
        assert!(uses(&plan, "Index Scan", "contacts_pkey"), "skip {skip}: the page's rows by key: {plan:?}");
    }
    // A deep page from the marks: the total, the ids and whether the marks are stale are each
    // read once a statement, not once a row.
    let deep = book.explain(page_marks::marked_page(book.owner, Page { skip: 45_000, limit: 20 })).await;
    assert_eq!(init_plans(&deep), 3, "{deep}");
    let (page, total) =
        book.repo.list(book.owner, &ContactFilter::default(), Page { skip: 45_000, limit: 20 }).await.unwrap();
    assert_eq!((page.len(), total), (20, BIG));
    assert_eq!(page[0].first_name, "First45001");

    // Substring search: the search table's trigram index, for `q` and each field, and only
    // the page's rows read from `contacts`, by key.
    let by_field = [
        q("irst4711"),
        ContactFilter { first_name: Some("irst4711".into()), ..Default::default() },
        ContactFilter { last_name: Some("a1b2c".into()), ..Default::default() },
        ContactFilter { email: Some("c4711@".into()), ..Default::default() },
        // A needle with many matches (First47, First470..First47999: 1,111, 2% of the book)
        // too: the exact total needs every match, so walking in id order would read them all.
        q("irst47"),
    ];
    for filter in &by_field {
        let plan = book.plan(search::Matches::new(book.owner, filter).page(Page { skip: 0, limit: 20 })).await;
        let lookups = plan.iter().filter(|(k, on)| k == "Bitmap Index Scan" && on == "contact_search_text_idx").count();
        assert_eq!(lookups, 1, "{filter:?}: the matches are read once: {plan:?}");
        let by_key = uses(&plan, "Index Scan", "contacts_pkey") || uses(&plan, "Index Scan", "contacts_user_id_idx");
        assert!(by_key, "{filter:?}: the page's rows by key: {plan:?}");
        assert!(!plan.iter().any(|(k, on)| k.contains("Heap") && on == "contacts"), "{filter:?}: {plan:?}");
        assert!(!plan.iter().any(|(_, on)| on == "contact_search_pkey"), "{filter:?}: no walk in id order: {plan:?}");
    }
    // A needle without a trigram is not looked up in the text (that would read the index's
    // every text entry, every owner's): only the owner's key narrows it.
    let short = book.explain(search::Matches::new(book.owner, &q("@e")).page(Page { skip: 0, limit: 20 })).await;
    let conditions = index_conditions(&short);
    assert!(!conditions.is_empty() && conditions.iter().all(|c| !c.contains("~~")), "{short}");
    let (page, total) = book.repo.list(book.owner, &q("@e"), Page { skip: 0, limit: 2 }).await.unwrap();
    let names: Vec<&str> = page.iter().map(|c| c.first_name.as_str()).collect();
    assert_eq!((names, total), (vec!["First1", "First2"], BIG), "every email of the book, none of the neighbour's");
    let (page, total) = book.repo.list(book.owner, &q("irst47"), Page { skip: 0, limit: 3 }).await.unwrap();
    let names: Vec<&str> = page.iter().map(|c| c.first_name.as_str()).collect();
    assert_eq!((names, total), (vec!["First47", "First470", "First471"], 1_111), "id order, exact total");
    // Asked again, a page of the kept matches is read by key, and is the full statement's page.
    let kept = book.plan(kept_rows(book.owner, &[page[0].id.0, page[2].id.0])).await;
    let by_key = uses(&kept, "Index Scan", "contacts_pkey") || uses(&kept, "Index Scan", "contacts_user_id_idx");
    assert!(by_key && !kept.iter().any(|(k, on)| k.contains("Seq") && on == "contacts"), "{kept:?}");
    let tail = Page { skip: 1_000, limit: 200 };
    let again = book.repo.list(book.owner, &q("irst47"), tail).await.unwrap();
    let afresh = PgContactRepository::new(book.db.clone()).list(book.owner, &q("irst47"), tail).await.unwrap();
    assert_eq!((again.0.len(), again.1), (111, 1_111));
    assert_eq!(again, afresh, "the kept page is the full statement's");
    // First4711 and First47110..47119 (and nothing of the neighbour's 20).
    let (page, total) = book.repo.list(book.owner, &q("irst4711"), Page { skip: 0, limit: 5 }).await.unwrap();
    assert_eq!((page.len(), total), (5, 11));
    // `%` and `_` stay literal through the index.
    let (_, total) = book.repo.list(book.owner, &q("irst_711"), Page { skip: 0, limit: 5 }).await.unwrap();
    assert_eq!(total, 0);

    // Chunks of a long birthday list: the (user_id, birthday_md) index, also in the generic
    // plan a pooled connection keeps, which once walked the primary key through the whole table
    // to fill a limit. Eight days (1,190 birthdays) with room for 501, and a page of 4 December
    // (595) after the book's middle contact.
    let (middle, _) =
        book.repo.list(book.owner, &ContactFilter::default(), Page { skip: BIG / 2 - 1, limit: 1 }).await.unwrap();
    let after = middle[0].id;
    let days = birthday_days::DaysQuery::new(book.owner.0, (1201..=1208).collect(), None, Some(501));
    let page = birthday_days::DaysQuery::new(book.owner.0, vec![1204], Some(after.0), Some(500));
    let page_values = format!("'{{1204}}', {}, 500", after.0);
    for (query, values) in [(days, "'{1201,1202,1203,1204,1205,1206,1207,1208}', 0, 501"), (page, page_values.as_str())]
    {
        let plan = book.run_generic(query, "bigint, smallint[], bigint, bigint", values).await;
        assert!(plan.iter().any(|(.., index, loops)| index == "contacts_user_birthday_idx" && *loops == 1), "{plan:?}");
        let walks = plan.iter().any(|(_, _, index, _)| index == "contacts_pkey" || index == "contacts_user_id_idx");
        assert!(!walks, "no walk in id order: {plan:?}");
    }
    let december_4th = [MonthDay { month: 12, day: 4 }];
    let page = book.repo.with_birthday_on(book.owner, &december_4th, Some(after), Some(500)).await.unwrap();
    let names: Vec<&str> = page.iter().map(|c| c.first_name.as_str()).collect();
    let expected: Vec<String> =
        (BIG / 2 + 1..=BIG).filter(|g| g % 12 == 11 && g % 28 == 3).map(|g| format!("First{g}")).collect();
    assert_eq!(names, expected, "the day's contacts after the id, in id order");
    // The first read of a list: 4 December (595 birthdays) with room for 1,000 is counted and
    // read; the whole of December (4,166) with room for 500 is only counted, on the index alone,
    // and not one contact is read.
    let december: Vec<i16> = (1201..=1231).collect();
    for (codes, most, long) in [(vec![1204], 1_000, false), (december, 500, true)] {
        let plan = book.run(birthday_probe::ProbeQuery::new(book.owner.0, codes, most)).await;
        let counted = ("Index Only Scan".into(), "per_day".into(), "contacts_user_birthday_idx".into(), 1);
        assert!(plan.contains(&counted), "long {long}: counted on the index: {plan:?}");
        // The contacts' scan: a node on the table and one on the index (a bitmap scan's index
        // node has no alias), each run once for a short list and never for a long one.
        let read: Vec<_> = plan
            .iter()
            .filter(|(_, alias, index, _)| {
                alias == "contacts" || (alias.is_empty() && index == "contacts_user_birthday_idx")
            })
            .collect();
        assert!(read.iter().any(|(_, _, index, _)| index == "contacts_user_birthday_idx"), "by the index: {plan:?}");
        assert!(read.iter().all(|(.., loops)| *loops == u64::from(!long)), "long {long}: once, or never: {plan:?}");
    }
    let december: Vec<MonthDay> = (1..=31).map(|day| MonthDay { month: 12, day }).collect();
    let BirthdayProbe::Counted { counts, .. } =
        book.repo.birthdays_up_to(book.owner, &december, 500, None).await.unwrap()
    else {
        panic!("December's list is long")
    };
    let expected = (1..=BIG).filter(|g| g % 12 == 11).count() as i64;
    assert_eq!((counts.len(), counts.iter().map(|(_, n)| n).sum::<i64>()), (7, expected), "seven days: {counts:?}");
}

/// How often a connection planned its prepared statements that read `table` with `marker`.
#[derive(QueryableByName, Debug, PartialEq)]
struct Plans {
    #[diesel(sql_type = BigInt)]
    generic_plans: i64,
    #[diesel(sql_type = BigInt)]
    custom_plans: i64,
}

#[tokio::test]
async fn the_whole_book_page_a_search_and_a_birthday_list_are_planned_once_per_connection() {
    // One book of 50,000 next to one of 20: the average book the generic plan assumes is
    // 25,010 contacts, which made every custom plan look cheaper.
    let book = big_book().await;
    let mut conn = book.db.conn().await.unwrap();
    for skip in [0, 20, 40, 0, 20, 40, 0, 20] {
        let rows: Vec<StampedRow> = stamped_page(book.owner, Page { skip, limit: 20 }).load(&mut conn).await.unwrap();
        assert_eq!(rows.len(), 20);
    }
    // PostgreSQL plans the first five executions for their values, then keeps the generic plan.
    assert_eq!(plans_of(&mut conn, "page_ids").await, vec![Plans { generic_plans: 3, custom_plans: 5 }]);

    // A search too, whatever its needle: 1 to 50,000 matches.
    for needle in ["irst4711", "irst47", "ast", "c1234@", "irst4711", "irst9", "irst1234", "ample"] {
        let filter = q(needle);
        let rows: Vec<search::MatchRow> =
            search::Matches::new(book.owner, &filter).page(Page { skip: 0, limit: 20 }).load(&mut conn).await.unwrap();
        assert!(!rows.is_empty(), "{needle}");
    }
    assert_eq!(plans_of(&mut conn, "contact_search").await, vec![Plans { generic_plans: 3, custom_plans: 5 }]);

    // The first read of a birthday list, whichever book and window: it was planned at every
    // execution, and planning cost more than running it for a small book.
    use crate::schema::users;
    let neighbour =
        UserId(users::table.filter(users::username.eq("small")).select(users::id).first(&mut conn).await.unwrap());
    for (owner, codes) in [(neighbour, vec![1204]), (book.owner, vec![1204]), (book.owner, (1201..=1231).collect())]
        .into_iter()
        .cycle()
        .take(8)
    {
        let rows: Vec<birthday_probe::ProbeRow> =
            birthday_probe::ProbeQuery::new(owner.0, codes, 500).load(&mut conn).await.unwrap();
        assert!(!rows.is_empty(), "one row at least");
    }
    assert_eq!(plans_of(&mut conn, "per_day").await, vec![Plans { generic_plans: 3, custom_plans: 5 }]);

    // A chunk of a long list: days read together, and pages of one day.
    let december: Vec<i16> = (1201..=1231).collect();
    for (codes, after) in
        [(vec![1204, 1205], None), (vec![1204], Some(BIG / 2)), (december, None)].into_iter().cycle().take(8)
    {
        let rows: Vec<ContactRow> =
            birthday_days::DaysQuery::new(book.owner.0, codes, after, Some(501)).load(&mut conn).await.unwrap();
        assert!(!rows.is_empty(), "some birthdays");
    }
    let chunks = plans_of(&mut conn, "OFFSET 0) AS \"contacts\"").await;
    assert_eq!(chunks, vec![Plans { generic_plans: 3, custom_plans: 5 }]);
}

/// How often this connection planned each of its prepared statements that mention `marker`.
async fn plans_of(conn: &mut diesel_async::AsyncPgConnection, marker: &str) -> Vec<Plans> {
    diesel::sql_query(
        "SELECT generic_plans, custom_plans FROM pg_prepared_statements \
         WHERE strpos(statement, $1) > 0 AND statement NOT LIKE '%pg_prepared_statements%'",
    )
    .bind::<diesel::sql_types::Text, _>(marker)
    .load(conn)
    .await
    .unwrap()
}

/// The owner's total as the unfiltered list reports it, and the rows really there.
async fn totals(repo: &PgContactRepository, db: &Database, owner: UserId) -> (i64, i64) {
    let (_, stored) = repo.list(owner, &ContactFilter::default(), Page { skip: 0, limit: 1 }).await.unwrap();
    let mut conn = db.conn().await.unwrap();
    let real: i64 = owned(owner).count().get_result(&mut conn).await.unwrap();
    (stored, real)
}

#[tokio::test]
async fn stored_total_follows_every_insert_and_delete() {
    use contacts_domain::contact::vcard::record;
    let (_test_db, db) = migrated_db().await;
    let repo = PgContactRepository::new(db.clone());
    let owner = create_user(&db, "owner").await;
    assert_eq!(totals(&repo, &db, owner).await, (0, 0), "a new account");

    let ada = repo.create(owner, new_contact("Ada", "Lovelace", "ada@example.com")).await.unwrap();
    repo.create(owner, new_contact("Alan", "Turing", "alan@example.com")).await.unwrap();
    assert_eq!(totals(&repo, &db, owner).await, (2, 2));
    // A refused insert changes nothing.
    assert!(repo.create(owner, new_contact("Ada", "Again", "ADA@example.com")).await.is_err());
    assert_eq!(totals(&repo, &db, owner).await, (2, 2));

    // An import batch: new cards count, a replaced one does not.
    let card = |uid: &str| {
        record(&format!("BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Card {uid}\r\nUID:{uid}\r\nEND:VCARD\r\n")).unwrap()
    };
    repo.import(owner, &[card("a"), card("b"), card("c")]).await.unwrap();
    repo.import(owner, &[card("a"), card("d")]).await.unwrap();
    assert_eq!(totals(&repo, &db, owner).await, (6, 6));

    assert!(repo.delete(owner, ada.id).await.unwrap());
    assert_eq!(totals(&repo, &db, owner).await, (5, 5));

    // A whole address book removed with its contacts.
    execute_sql(
        &db,
        &format!("INSERT INTO address_books (user_id, name, display_name) VALUES ({}, 'work', 'Work')", owner.0),
    )
    .await
    .unwrap();
    execute_sql(
        &db,
        &format!(
            "INSERT INTO contacts (user_id, book_id, uid, href, card, first_name, last_name) \
             SELECT {0}, id, 'w' || g, 'w' || g || '.vcf', 'BEGIN:VCARD', 'W', 'W' FROM address_books, \
             generate_series(1, 7) g WHERE user_id = {0} AND name = 'work'",
            owner.0
        ),
    )
    .await
    .unwrap();
    assert_eq!(totals(&repo, &db, owner).await, (12, 12));
    execute_sql(&db, &format!("DELETE FROM address_books WHERE user_id = {} AND name = 'work'", owner.0))
        .await
        .unwrap();
    assert_eq!(totals(&repo, &db, owner).await, (5, 5));

    // A page past the end still reports the total.
    let (page, total) = repo.list(owner, &ContactFilter::default(), Page { skip: 100, limit: 10 }).await.unwrap();
    assert_eq!((page.len(), total), (0, 5));

    // Deleting the account takes its contacts and its count along.
    execute_sql(&db, &format!("DELETE FROM users WHERE id = {}", owner.0)).await.expect("delete the account");
    let left = execute_sql(&db, &format!("SELECT 1 FROM contact_counts WHERE user_id = {}", owner.0)).await.unwrap();
    assert_eq!(left, 0);
}
