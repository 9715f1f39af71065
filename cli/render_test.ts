import assert from "node:assert/strict";
import { HoopError } from "../proto/errors.ts";
import { parseOutputFormat, renderJson, renderTable } from "./render.ts";

Deno.test("renderTable() aligns columns with upper-case headers and - for empty cells", () => {
  const rows = [
    { id: "22ab1d2f-...", name: "default", mode: "standard", version: "unknown", status: "ONLINE" },
    { id: "7850eb2d-...", name: "homolog", mode: "standard", version: null, status: "" },
  ];
  const out = renderTable([
    { header: "uid", value: (r: typeof rows[0]) => r.id },
    { header: "NAME", value: (r) => r.name },
    { header: "MODE", value: (r) => r.mode },
    { header: "VERSION", value: (r) => r.version },
    { header: "STATUS", value: (r) => r.status },
  ], rows);
  assert.equal(
    out,
    "UID            NAME      MODE       VERSION   STATUS\n" +
      "22ab1d2f-...   default   standard   unknown   ONLINE\n" +
      "7850eb2d-...   homolog   standard   -         -\n",
  );
});

Deno.test("renderTable() prints only the header line for no rows and keeps cells on one line", () => {
  assert.equal(renderTable([{ header: "A", value: () => 1 }], []), "A\n");
  assert.equal(
    renderTable([{ header: "A", value: (r: string) => r }, { header: "B", value: () => 0 }], [
      "x\ny",
    ]),
    "A     B\nx y   0\n",
  );
});

Deno.test("renderJson() prints the objects as pretty JSON with their snake_case keys", () => {
  assert.equal(
    renderJson([{ id: "1", created_at: null }]),
    '[\n  {\n    "id": "1",\n    "created_at": null\n  }\n]\n',
  );
});

Deno.test("parseOutputFormat() defaults to table and rejects unknown formats listing the choices", () => {
  assert.equal(parseOutputFormat(undefined), "table");
  assert.equal(parseOutputFormat("json"), "json");
  assert.throws(() => parseOutputFormat("yaml"), (err: HoopError) => {
    assert.equal(err.exitCode, 2);
    assert.equal(err.message, 'unknown output format "yaml": choose one of table, json');
    return true;
  });
});

Deno.test("renderTable() escapes control characters an agent could report (issue #10)", () => {
  const out = renderTable([{ header: "hostname", value: (r: { h: string }) => r.h }], [
    { h: "evil\x1b]0;owned\x07\x1b[2J" },
  ]);
  assert.equal(out, "HOSTNAME\nevil\\x1b]0;owned\\x07\\x1b[2J\n");
  assert.ok(!out.includes("\x1b"));
});
