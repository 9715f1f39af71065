/**
 * Checks of request fields that more than one resource takes: group lists,
 * emails and passwords. Each throws `invalid_argument` with a message that
 * names the value refused.
 *
 * @module
 */
import { validateName } from "../../proto/dsn.ts";
import { invalidArgument } from "../../proto/errors.ts";
import { printable } from "../../proto/printable.ts";
import type { Body } from "./_body.ts";

/** Minimum password length for accounts. */
export const MIN_PASSWORD_LENGTH = 8;

/** The `groups` field (a list or one comma-separated string) as trimmed, unique, valid names. */
export function groupsOf(body: Body<{ groups?: string[] | string }>): string[] {
  const v = body.groups;
  if (v === undefined || v === null) return [];
  const list = typeof v === "string" ? v.split(",") : v;
  if (!Array.isArray(list) || list.some((g) => typeof g !== "string")) {
    throw invalidArgument('Field "groups" must be a list of names');
  }
  const groups = [...new Set(list.map((g: string) => g.trim()).filter(Boolean))];
  for (const g of groups) validateName("group", g);
  return groups;
}

/**
 * One "@" between two non-empty parts with no white space, control or
 * format characters (NUL, escapes, bidi overrides), which would otherwise
 * reach log lines, tables and the PostgreSQL listener's user name.
 */
const EMAIL = /^[^\s@\p{Cc}\p{Cf}]+@[^\s@\p{Cc}\p{Cf}]+$/u;

/** Longest email accepted (RFC 5321's path limit). */
export const MAX_EMAIL_CHARS = 254;

/** `email` trimmed and lower-cased, as the store keeps it. */
export function normalizeEmail(email: string): string {
  const e = email.trim().toLowerCase();
  if (!EMAIL.test(e) || e.length > MAX_EMAIL_CHARS) {
    throw invalidArgument(`Invalid email "${printable(email, 80)}"`, {
      hint: "use name@domain, without spaces or control characters",
    });
  }
  return e;
}

/** Refuse passwords shorter than {@linkcode MIN_PASSWORD_LENGTH}. */
export function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw invalidArgument(`Password too short: use at least ${MIN_PASSWORD_LENGTH} characters`);
  }
}
