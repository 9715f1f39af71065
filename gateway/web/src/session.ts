/** Who is signed in: `undefined` while the console asks, `null` when nobody. */
import { signal } from "@preact/signals";
import type { User } from "../../../proto/api_types.ts";

export const me = signal<User | null | undefined>(undefined);
