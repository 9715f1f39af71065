/**
 * Test certificates made with `openssl` at test time: a self-signed v3 CA and
 * a v3 server certificate for `127.0.0.1` and `localhost` (SAN) signed by it.
 * Deno rejects v1 certificates, so every certificate carries v3 extensions.
 *
 * @module
 */
import { join } from "node:path";

/** PEM files of a test CA and a server certificate it signed. */
export interface TestCerts extends AsyncDisposable {
  /** Directory holding the files; removed on dispose. */
  dir: string;
  caCertFile: string;
  caCert: string;
  certFile: string;
  keyFile: string;
  /** `base64://...` form of the CA, as `HOOP_TLSCA` accepts it. */
  caBase64Url: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(
      `Cannot run "openssl ${args[0]}": exit ${out.code}\n${new TextDecoder().decode(out.stderr)}`,
    );
  }
}

/** Options of {@linkcode makeTestCerts}. */
export interface TestCertOptions {
  /** subjectAltName of the server certificate; default `IP:127.0.0.1,DNS:localhost`. */
  subjectAltName?: string;
}

/** Create a CA and a server certificate (127.0.0.1/localhost by default) in a temp dir. */
export async function makeTestCerts(opts: TestCertOptions = {}): Promise<TestCerts> {
  const dir = await Deno.makeTempDir({ prefix: "hoop-tls-" });
  try {
    await Deno.writeTextFile(
      join(dir, "server.ext"),
      [
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        "extendedKeyUsage=serverAuth",
        `subjectAltName=${opts.subjectAltName ?? "IP:127.0.0.1,DNS:localhost"}`,
        "authorityKeyIdentifier=keyid,issuer",
        "subjectKeyIdentifier=hash",
        "",
      ].join("\n"),
    );
    // -x509 with -addext writes a v3 certificate with CA:TRUE.
    await openssl([
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "2",
      "-subj",
      "/CN=hoop test CA",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
    ], dir);
    await openssl([
      "req",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-subj",
      "/CN=127.0.0.1",
      "-keyout",
      "server.key",
      "-out",
      "server.csr",
    ], dir);
    await openssl([
      "x509",
      "-req",
      "-in",
      "server.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "2",
      "-extfile",
      "server.ext",
      "-out",
      "server.pem",
    ], dir);
    // PKCS#8 so every TLS stack (rustls in Deno, OpenSSL in grpc-js) reads it.
    await openssl(["pkcs8", "-topk8", "-nocrypt", "-in", "server.key", "-out", "server.pk8"], dir);
  } catch (err) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw err;
  }
  const caCert = await Deno.readTextFile(join(dir, "ca.pem"));
  return {
    dir,
    caCertFile: join(dir, "ca.pem"),
    caCert,
    certFile: join(dir, "server.pem"),
    keyFile: join(dir, "server.pk8"),
    caBase64Url: `base64://${btoa(caCert)}`,
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
