#!/usr/bin/env node
// Runs ClickHouse SQL on chdb (ClickHouse as a library) for olapgate's tests.
//
// Each stdin line is a request, {"statements": ["CREATE TABLE ...", "SELECT ..."]}; each
// answer is one stdout line, a JSON array with one element per statement, in order:
//   {"ok": true, "text": "<the statement's JSONCompact output, verbatim>"}
//   {"ok": false, "code": <ClickHouse error code or null>, "error": "<message>"}
// Results are passed on as text ClickHouse printed (never parsed here: JavaScript numbers
// would round 64-bit integers). Every request runs in the same in-memory session, so tables
// created by one are there for the next; the session closes at the end of stdin.
"use strict";
const readline = require("readline");
const { Session } = require("chdb");

function errorCode(e) {
  if (e && Number.isInteger(e.clickhouseCode)) return e.clickhouseCode;
  const m = /Code: (\d+)\./.exec(String(e && e.message));
  return m ? Number(m[1]) : null;
}

const session = new Session();
const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on("line", (line) => {
  if (line.trim() === "") return;
  const out = [];
  for (const sql of JSON.parse(line).statements) {
    try {
      out.push({ ok: true, text: session.query(sql, "JSONCompact") });
    } catch (e) {
      out.push({ ok: false, code: errorCode(e), error: String(e && e.message) });
      // chdb 3.4.0 hands the result of a statement that failed while executing to the next
      // query of the session; a throwaway query takes it.
      try {
        session.query("SELECT 1", "JSONCompact");
      } catch (_) {}
    }
  }
  process.stdout.write(JSON.stringify(out) + "\n");
});
lines.on("close", () => session.close());
