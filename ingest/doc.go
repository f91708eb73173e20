// Package ingest is the Segment-compatible HTTP Tracking API: it
// authenticates write keys, checks limits and required fields, normalizes
// each event (identifiers, timestamps with clock-skew correction, a batch's
// shared context), and appends the accepted events to the inbox. Segment's
// libraries work against it by changing only their host.
//
// # Routes
//
// Every route takes POST, and OPTIONS for CORS preflights. Browsers on any
// origin may post (the Origin is echoed back, with credentials allowed).
//
//	POST /v1/identify   /v1/i      one identify call
//	POST /v1/track      /v1/t      one track call
//	POST /v1/page       /v1/p      one page call
//	POST /v1/screen     /v1/s      one screen call
//	POST /v1/group      /v1/g      one group call
//	POST /v1/alias      /v1/a      one alias call
//	POST /v1/batch      /v1/b      {"batch": [events...], "sentAt", "context", "integrations"}
//	POST /v1/import                the same as /v1/batch
//
// The short paths are the ones analytics.js (analytics-next) posts to. The
// type of a single call is its route's (a type field in the body is
// ignored); each batch item names its own type: identify, track, page,
// screen, group or alias.
//
// # Authentication
//
// The source's write key, either as the user name of HTTP Basic
// authentication with an empty password ("Authorization: Basic " +
// base64(writeKey + ":"); the colon may be left out), or as "writeKey" in the
// JSON body. The header wins when both are present. A key belongs to one
// source of one space; every event of the request is stored for that source.
// A missing or unknown key answers 401 and stores nothing.
//
// # Body
//
// Content-Type application/json, or text/plain (analytics.js sends that to
// avoid a preflight); a charset parameter is allowed. The body may be
// gzip-compressed (Content-Encoding: gzip); the limits below apply to the
// decompressed body.
//
// # Limits and required fields
//
//   - A single call's body: at most 32 KB (32,768 bytes).
//   - A batch body: at most 500 KB (512,000 bytes), and at most 2,500 items.
//   - Each batch item: at most 32 KB as sent, and at most 32 KB + 512 bytes
//     as stored (after the batch's context is merged in and the server's
//     timestamps are added).
//   - Every event needs userId or anonymousId (a string, or a number, which
//     is stored as a string). track needs event; group needs groupId; alias
//     needs userId and previousId. Identifiers may not contain NUL.
//   - messageId: at most 100 characters. An event without one is given
//     "api-" and a random UUID.
//   - context, integrations, properties and traits, when present, are JSON
//     objects. timestamp, originalTimestamp and sentAt are ISO-8601
//     date-times (RFC 3339; a date alone, or no zone, is read as UTC).
//
// # Answers
//
// Every answer is JSON.
//
//	200 {"success":true}
//	    Every event was stored, durably: the answer is sent only after the
//	    inbox committed them. Duplicates count as stored (see below).
//	400 {"success":false,"error":"2 of 5 events rejected; the other 3 were accepted",
//	     "accepted":3,"rejected":[{"index":1,"messageId":"m-2","error":"userId or anonymousId is required"}, ...]}
//	    Some events were invalid. Unlike Segment, which answers 200 and drops
//	    them silently, each rejected event is named by its index in batch[]
//	    (0 for a single call), its messageId if it had one, and the reason.
//	    The valid events of the request WERE stored; do not resend them (a
//	    resend would be dropped as a duplicate anyway).
//	400 {"success":false,"error":"invalid JSON: ..."}
//	    The request as a whole is malformed (invalid JSON, a body that is not
//	    an object, batch missing or not an array, more than 2,500 items, an
//	    invalid batch-level sentAt, context or integrations). Nothing stored.
//	401 {"success":false,"error":"missing write key: ..."} or "unknown write key"
//	    Nothing stored. The key is never echoed or logged.
//	404 unknown path; 405 a method other than POST or OPTIONS.
//	413 {"success":false,"error":"request body is larger than 512000 bytes"}
//	    The body (decompressed) is over its limit. Nothing stored.
//	415 Content-Type is not JSON or text, or Content-Encoding is not gzip.
//	    Nothing stored.
//	503 {"success":false,"error":"the inbox is unavailable; nothing was stored, retry"}
//	    The inbox (or the write-key lookup) failed, or the server is shutting
//	    down. Nothing of the request is acknowledged; retrying is safe.
//
// A request is checked in this order: Content-Type (415), a write key in the
// Authorization header (401), body encoding and size (415, 413, 400 for
// broken gzip), JSON and the body's shape and item count (400), a write key
// in the body (401), the batch's sentAt, context and integrations (400), and
// last the events (400 with the rejected list, after the valid ones were
// stored).
//
// # Deduplication
//
// Events are deduplicated by messageId per source (not globally, as Segment
// does) over a window, 24 hours by default (Config.DedupeWindow). A
// duplicate is not an error: it answers 200 and is not stored again. The
// count of dropped duplicates is logged and kept in Server.Stats.
//
// # Timestamps
//
// Each stored event carries:
//
//   - receivedAt: the server's clock when the request arrived (millisecond
//     precision), the same for every event of the request;
//   - originalTimestamp: the event's timestamp field as the libraries send
//     it, or else its originalTimestamp field;
//   - sentAt: the event's sentAt, or else the batch's;
//   - timestamp: receivedAt − (sentAt − originalTimestamp) when both client
//     times are known, which corrects the device's clock skew; the
//     originalTimestamp alone when there is no sentAt (historical imports);
//     receivedAt when the event has neither.
//
// All four are written in RFC 3339 UTC. A timestamp that cannot be parsed
// rejects its event.
//
// # Stored form
//
// The inbox gets, per event, the space and source of the write key, the
// messageId, the type, receivedAt, the corrected timestamp, and the payload:
// the Segment message as sent (properties, traits, context, integrations and
// any other field untouched, with the batch's context and integrations
// merged in recursively, the event's own keys winning, down to 8 levels),
// its type, messageId, userId, anonymousId, groupId and previousId as
// strings, the four timestamps, and no writeKey. The JSON is compact, with
// sorted keys; bytes that are not UTF-8 are replaced by U+FFFD.
//
// # Group commit and lifecycle
//
// A 200 is durable: it is sent only after Inbox.Append committed the
// request's events. Concurrent requests share Inbox.Append calls: a committer gathers their
// events until Config.FlushEvents (2,000) are waiting or Config.FlushLinger
// (2 ms) has passed, appends them in one transaction, and answers each
// request with its own events' results. A failed append answers 503 to the
// requests of that append only. Call Server.Start before serving, and on
// shutdown http.Server.Shutdown first and then Server.Close, which appends
// what is queued. Logs (log/slog) carry counts, ids of sources and spaces,
// and fixed reason codes: never event bodies, trait values or write keys.
package ingest
