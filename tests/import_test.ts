// CSV import end to end through the API: upload, mapping, dry run report, real run, rollback.
import assert from "node:assert/strict";
import { sql } from "kysely";
import { seedTenant, testApp } from "./helpers/app.ts";

const t = await testApp();

// deno-lint-ignore no-explicit-any -- response bodies are checked field by field
type Json = Record<string, any>;

async function setup(slug: string) {
  const org = await seedTenant(t, { slug });
  const call = async (method: string, path: string, body?: unknown, type = "application/json") => {
    const res = await t.app.request(`/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${org.key}`, "content-type": type },
      body: body === undefined
        ? undefined
        : body instanceof Uint8Array
        ? body as Uint8Array<ArrayBuffer>
        : typeof body === "string"
        ? body
        : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text.startsWith("{") ? JSON.parse(text) : text) as Json };
  };
  const upload = async (bytes: Uint8Array | string, filename = "people.csv") => {
    const r = await call("POST", `/imports?filename=${filename}`, bytes, "text/csv");
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body;
  };
  /** Starts a step and waits for it to finish (polling the status endpoint, as a client would). */
  const step = async (id: string, name: "check" | "run") => {
    const started = await call("POST", `/imports/${id}/${name}`);
    assert.equal(started.status, 202, JSON.stringify(started.body));
    for (let i = 0; i < 600; i++) {
      const s = await call("GET", `/imports/${id}`);
      if (!["checking", "running"].includes(s.body.status)) return s.body;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error("import did not finish");
  };
  const persons = async () =>
    (await t.deps.db.selectFrom("persons").select(sql<number>`count(*)::int`.as("n"))
      .where("tenant_id", "=", org.tenant.id).executeTakeFirstOrThrow()).n;
  return { org, call, upload, step, persons };
}

const fixture = (name: string) => Deno.readFile(new URL(`./fixtures/csv/${name}`, import.meta.url));

Deno.test("a messy Latin-1 ';' file: dry run reports, real run applies, matching uses all addresses", async () => {
  const { call, upload, step, persons } = await setup("import-1");
  await call("POST", "/persons", {
    first_name: "Anna",
    last_name: "Berg",
    addresses: [{ address: "anna.berg@uni.se" }],
  });
  const lars = (await call("POST", "/persons", {
    first_name: "Lars",
    last_name: "Lind",
    addresses: [{ address: "lars@kth.se" }, { address: "lars.alt@home.example" }],
  })).body;

  const imp = await upload(await fixture("import_latin1_semicolon.csv"));
  assert.equal(imp.encoding, "windows-1252");
  assert.equal(imp.delimiter, ";");
  assert.deepEqual(imp.headers, ["E-post", "Förnamn", "Efternamn", "Organisation", "E-post 2"]);
  assert.deepEqual(imp.suggested_mapping.columns, [
    "email",
    "first_name",
    "last_name",
    "organisation",
    "email",
  ]);

  const mapped = await call("PUT", `/imports/${imp.id}/mapping`, imp.suggested_mapping);
  assert.equal(mapped.status, 200, JSON.stringify(mapped.body));
  // The real run needs a dry run first.
  assert.equal((await call("POST", `/imports/${imp.id}/run`)).status, 409);

  const checked = await step(imp.id, "check");
  assert.equal(checked.status, "checked", checked.error);
  const r = checked.report;
  assert.deepEqual(
    {
      rows: r.rows,
      new: r.new_persons,
      updated: r.updated_persons,
      secondary: r.matched_on_secondary,
      conflicts: r.conflicts,
      invalid: r.invalid,
    },
    { rows: 7, new: 2, updated: 2, secondary: 1, conflicts: 1, invalid: 2 },
  );
  assert.deepEqual(r.invalid_rows.map((x: Json) => [x.line, x.reason]), [
    [5, "missing_at"],
    [8, "empty"],
  ]);
  assert.equal(r.conflict_rows[0].line, 6);
  assert.equal(r.conflict_rows[0].persons.length, 2);
  assert.equal(await persons(), 2, "a dry run changes nothing");

  const csv = await call("GET", `/imports/${imp.id}/report.csv`);
  assert.match(csv.body as unknown as string, /^line,outcome,detail\r\n5,invalid,/);

  const done = await step(imp.id, "run");
  assert.equal(done.status, "done", done.error);
  assert.equal(done.report.new_persons, 2);
  assert.equal(await persons(), 4);

  const jyrki = (await call("GET", "/persons?q=jyrki@jyu.fi")).body.items[0];
  assert.equal(jyrki.last_name, "Mäkelä");
  assert.equal(jyrki.organisation, "Jyväskylän yliopisto; IT");
  // add_additional: Lars keeps his primary; the matched secondary stays secondary.
  const l = (await call("GET", `/persons/${lars.id}`)).body;
  assert.equal(l.addresses.find((a: Json) => a.is_primary).address, "lars@kth.se");
  assert.equal(l.organisation, "KTH");

  // The mapping is remembered for the next file with the same headers.
  const again = await upload(await fixture("import_latin1_semicolon.csv"));
  assert.deepEqual(again.suggested_mapping.columns, imp.suggested_mapping.columns);
});

Deno.test("overwrite_primary makes the file's address the sending one; add_additional adds it", async () => {
  const { call, upload, step } = await setup("import-2");
  const p = (await call("POST", "/persons", {
    first_name: "Eva",
    addresses: [{ address: "eva@old.example" }, { address: "eva@alt.example" }],
  })).body;
  const q = (await call("POST", "/persons", {
    first_name: "Olle",
    addresses: [{ address: "olle@old.example" }],
  })).body;
  const file = "email,email 2,first_name\r\n" +
    "eva@alt.example,,Eva\r\n" + // matched on a secondary address
    "olle@new.example,olle@old.example,Olle\r\n"; // a new address for a known person
  for (const mode of ["add_additional", "overwrite_primary"]) {
    const imp = await upload(file);
    await call("PUT", `/imports/${imp.id}/mapping`, {
      columns: ["email", "email", "first_name"],
      mode,
    });
    await step(imp.id, "check");
    const done = await step(imp.id, "run");
    assert.equal(done.status, "done", done.error);
    const eva = (await call("GET", `/persons/${p.id}`)).body;
    const olle = (await call("GET", `/persons/${q.id}`)).body;
    const primary = (x: Json) => x.addresses.find((a: Json) => a.is_primary).address;
    if (mode === "add_additional") {
      assert.equal(primary(eva), "eva@old.example");
      assert.equal(primary(olle), "olle@old.example");
      assert.ok(olle.addresses.some((a: Json) => a.address === "olle@new.example"));
    } else {
      assert.equal(primary(eva), "eva@alt.example");
      assert.equal(primary(olle), "olle@new.example");
      assert.equal(olle.addresses.length, 2);
    }
  }
});

Deno.test("the real run is all-or-nothing: a failure late in the file leaves no trace", async () => {
  const { org, call, upload, step, persons } = await setup("import-3");
  const lines = ["email;first_name;last_name"];
  for (let i = 1; i <= 2500; i++) {
    lines.push(`person${i}@bulk.example;Person;${i === 2400 ? "Explode" : `Number ${i}`}`);
  }
  const imp = await upload(lines.join("\n"));
  await call("PUT", `/imports/${imp.id}/mapping`, {
    columns: ["email", "first_name", "last_name"],
  });
  const checked = await step(imp.id, "check");
  assert.equal(checked.report.new_persons, 2500);

  // The database refuses row 2,400 (as a constraint added by a DBA would), after two batches
  // of 1,000 persons were already written inside the run's transaction.
  await sql`create function refuse_explode() returns trigger language plpgsql as $$
    begin
      if new.last_name = 'Explode' and new.tenant_id = ${sql.lit(org.tenant.id)} then
        raise exception 'refused by test trigger';
      end if;
      return new;
    end $$`.execute(t.deps.db);
  await sql`create trigger refuse_explode before insert on persons
    for each row execute function refuse_explode()`.execute(t.deps.db);
  try {
    const failed = await step(imp.id, "run");
    assert.equal(failed.status, "failed");
    assert.match(failed.error, /refused by test trigger/);
    assert.equal(await persons(), 0, "nothing of the first 2,399 rows remains");
  } finally {
    await sql`drop trigger refuse_explode on persons`.execute(t.deps.db);
    await sql`drop function refuse_explode()`.execute(t.deps.db);
  }
});

Deno.test("imports are tenant-scoped and bad mappings name the column", async () => {
  const a = await setup("import-4a");
  const b = await setup("import-4b");
  const imp = await a.upload("email,name\r\nx@y.example,X\r\n");
  for (
    const [method, path] of [
      ["GET", `/imports/${imp.id}`],
      ["PUT", `/imports/${imp.id}/mapping`],
      ["POST", `/imports/${imp.id}/check`],
      ["GET", `/imports/${imp.id}/report.csv`],
    ]
  ) {
    const r = await b.call(
      method!,
      path!,
      method === "GET" ? undefined : { columns: ["email", "ignore"] },
    );
    assert.equal(r.status, 404, `${method} ${path}`);
  }
  const noEmail = await a.call("PUT", `/imports/${imp.id}/mapping`, {
    columns: ["ignore", "first_name"],
  });
  assert.equal(noEmail.status, 400);
  assert.equal(noEmail.body.error.details[0].path, "columns");
  const unknown = await a.call("PUT", `/imports/${imp.id}/mapping`, {
    columns: ["email", "custom.shoe_size"],
  });
  assert.equal(unknown.status, 400);
  assert.equal(unknown.body.error.details[0].path, "columns.1");
  const count = await a.call("PUT", `/imports/${imp.id}/mapping`, { columns: ["email"] });
  assert.equal(count.body.error.details[0].code, "count");
});

Deno.test("a malformed file fails the dry run with the line and reason, changing nothing", async () => {
  const { call, upload, step, persons } = await setup("import-5");
  const imp = await upload(await fixture("malformed_stray_quote.csv"));
  await call("PUT", `/imports/${imp.id}/mapping`, { columns: ["email", "first_name"] });
  const checked = await step(imp.id, "check");
  assert.equal(checked.status, "failed");
  assert.equal(checked.error, "csv:stray_quote:3");
  assert.equal(await persons(), 0);
});
