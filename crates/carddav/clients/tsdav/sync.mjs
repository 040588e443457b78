// tsdav (a CardDAV client library many web apps sync with) against the real server: where
// vdirsyncer compares etags from PROPFIND, tsdav follows `getctag` and `sync-collection` with
// `addressbook-multiget`, as DAVx5 and iOS do.
//
// 1. Discovery from the server's root finds the default address book with its ctag, sync token
//    and `sync-collection` among its reports; a contact made through REST is among its cards.
// 2. A card created, then updated with `If-Match`, reads back through REST; an update with a
//    stale ETag is refused (412).
// 3. The ctag moves on a change; a sync from the token taken before a REST change, a REST
//    create and a REST delete reports exactly those (the sync method tsdav picks itself).
// 4. A card deleted through CardDAV is gone from CardDAV and REST.
// 5. Past 8 KiB an answer comes gzip-compressed to a client that asks for gzip, as fetch does:
//    80 cards imported through REST are all in a PROPFIND and in tsdav's own reads of the book.
//
// Environment: DAV_URL (the server's base URL, ending in /), DAV_USER, DAV_PASSWORD (an app
// password), REST_TOKEN (an access token of the same user). Run by ../real-server.sh.
import assert from 'node:assert/strict';
import { createDAVClient } from 'tsdav';

const base = process.env.DAV_URL.replace(/\/$/, '');
const token = process.env.REST_TOKEN;
const run = Date.now().toString(36);

/** One REST call as the user: [status, decoded JSON or null]. */
async function rest(method, path, body) {
  const headers = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const answer = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await answer.text();
  return [answer.status, text ? JSON.parse(text) : null];
}

/** The REST contact with this uid, or undefined. */
async function restContact(uid) {
  const [status, contacts] = await rest('GET', '/api/contacts/?limit=1000');
  assert.equal(status, 200);
  return contacts.find((c) => c.uid === uid);
}

const card = (uid, given, family) =>
  `BEGIN:VCARD\r\nVERSION:3.0\r\nUID:${uid}\r\nN:${family};${given};;;\r\nFN:${given} ${family}\r\n` +
  `EMAIL;TYPE=home:${uid}@example.org\r\nEND:VCARD\r\n`;

const client = await createDAVClient({
  serverUrl: `${base}/`,
  credentials: { username: process.env.DAV_USER, password: process.env.DAV_PASSWORD },
  authMethod: 'Basic',
  defaultAccountType: 'carddav',
});

// 1. Discovery.
const [made, rested] = await rest('POST', '/api/contacts/', {
  first_name: 'Rest', last_name: `Made${run}`, email: `rest-${run}@example.org`, phone: '+1 555 0100', birthday: '1990-01-02',
});
assert.equal(made, 201, JSON.stringify(rested));
const books = await client.fetchAddressBooks();
const book = books.find((b) => new URL(b.url, base).pathname === `/dav/addressbooks/${process.env.DAV_USER}/contacts/`);
assert.ok(book, `the default book among ${JSON.stringify(books.map((b) => b.url))}`);
assert.ok(book.resourcetype.includes('addressbook'), String(book.resourcetype));
assert.ok(book.ctag && book.syncToken, JSON.stringify(book));
assert.ok(book.reports.includes('syncCollection'), String(book.reports));
let cards = await client.fetchVCards({ addressBook: book });
const restCard = cards.find((c) => c.data.includes(`UID:${rested.uid}`));
assert.ok(restCard, 'the REST contact is a card');
assert.ok(restCard.url.endsWith(`/${rested.uid}.vcf`) && restCard.etag, JSON.stringify(restCard));

// 2. Create, update, a stale update.
const uid = `tsdav-${run}`;
const created = await client.createVCard({ addressBook: book, vCardString: card(uid, 'Ada', 'Lovelace'), filename: `${uid}.vcf` });
assert.equal(created.status, 201);
assert.equal((await restContact(uid))?.last_name, 'Lovelace');
cards = await client.fetchVCards({ addressBook: book });
const ours = cards.find((c) => c.url.endsWith(`/${uid}.vcf`));
assert.equal(ours.etag, created.headers.get('etag'), 'the ETag of the PUT is the one listed');
const updated = await client.updateVCard({ vCard: { ...ours, data: card(uid, 'Ada', 'King') } });
assert.equal(updated.status, 204);
assert.equal((await restContact(uid))?.last_name, 'King');
const stale = await client.updateVCard({ vCard: { ...ours, data: card(uid, 'Ada', 'Byron') } });
assert.equal(stale.status, 412, 'an update from a stale ETag is refused');
assert.equal((await restContact(uid))?.last_name, 'King');

// 3. ctag and sync-collection, after REST changes.
const before = await client.fetchAddressBooks();
const then = before.find((b) => b.url === book.url);
cards = await client.fetchVCards({ addressBook: then });
const [patched] = await rest('PATCH', `/api/contacts/${rested.id}`, { last_name: `Changed${run}` });
assert.equal(patched, 200);
const [second, secondBody] = await rest('POST', '/api/contacts/', {
  first_name: 'Second', last_name: `Made${run}`, email: `second-${run}@example.org`, phone: '+1 555 0101', birthday: '1991-02-03',
});
assert.equal(second, 201);
const ourContact = await restContact(uid);
assert.equal((await rest('DELETE', `/api/contacts/${ourContact.id}`))[0], 204);
const dirty = await client.isCollectionDirty({ collection: then });
assert.equal(dirty.isDirty, true);
assert.notEqual(dirty.newCtag, then.ctag);
const synced = await client.smartCollectionSync({
  collection: { ...then, objects: cards, objectMultiGet: client.addressBookMultiGet },
  detailedResult: true,
  account: { accountType: 'carddav', homeUrl: then.url, rootUrl: `${base}/` },
});
const names = (list) => list.map((o) => new URL(o.url, base).pathname.split('/').pop()).sort();
assert.deepEqual(names(synced.objects.created), [`${secondBody.uid}.vcf`]);
assert.deepEqual(names(synced.objects.updated), [`${rested.uid}.vcf`]);
assert.deepEqual(names(synced.objects.deleted), [`${uid}.vcf`]);
assert.ok(synced.objects.updated[0].data.includes(`Changed${run}`), synced.objects.updated[0].data);
assert.notEqual(synced.syncToken, then.syncToken);
const quiet = await client.smartCollectionSync({
  collection: { ...synced, objects: [], objectMultiGet: client.addressBookMultiGet },
  detailedResult: true,
  account: { accountType: 'carddav', homeUrl: then.url, rootUrl: `${base}/` },
});
assert.deepEqual([quiet.objects.created, quiet.objects.updated, quiet.objects.deleted], [[], [], []], 'nothing since');

// 4. Delete through CardDAV.
cards = await client.fetchVCards({ addressBook: book });
const secondCard = cards.find((c) => c.url.endsWith(`/${secondBody.uid}.vcf`));
assert.equal((await client.deleteVCard({ vCard: secondCard })).status, 204);
cards = await client.fetchVCards({ addressBook: book });
assert.ok(!cards.some((c) => c.url === secondCard.url), 'gone from CardDAV');
assert.equal((await rest('GET', `/api/contacts/${secondBody.id}`))[0], 404, 'gone from REST');

// 5. A longer book: its listings come gzip-compressed, and read whole.
const bulk = Array.from({ length: 80 }, (_, i) => card(`bulk-${run}-${i}`, 'Bulk', `Card${i}`)).join('');
const imported = await fetch(`${base}/api/contacts/import`, {
  method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/vcard' }, body: bulk,
});
assert.equal(imported.status, 200);
assert.equal((await imported.json()).created, 80);
const basic = Buffer.from(`${process.env.DAV_USER}:${process.env.DAV_PASSWORD}`).toString('base64');
const listing = await fetch(new URL(book.url, base), {
  method: 'PROPFIND',
  headers: { authorization: `Basic ${basic}`, depth: '1', 'content-type': 'application/xml', 'accept-encoding': 'gzip' },
  body: '<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>',
});
assert.equal(listing.status, 207);
assert.equal(listing.headers.get('content-encoding'), 'gzip', 'a long listing comes compressed');
const listed = await listing.text();
for (let i = 0; i < 80; i++) assert.ok(listed.includes(`/bulk-${run}-${i}.vcf<`), `bulk-${i} in the inflated listing`);
cards = await client.fetchVCards({ addressBook: book });
assert.equal(cards.filter((c) => c.data.includes(`UID:bulk-${run}-`)).length, 80, 'tsdav reads every card');

console.log('tsdav: discovery, create, update, stale update refused, ctag, sync-collection, delete and a gzip-compressed listing: ok');
