/**
 * The one parser of command lines (`--command 'rails console'`): the CLI
 * checks a line with it before publishing a connection, and the agent splits
 * the same line with it before running the program, so both read the same
 * words. There is no shell in between.
 *
 * @module
 */
import { invalidArgument } from "./errors.ts";
function unterminated(kind: string, offset: number) {
  return invalidArgument(
    `Cannot split command line: the ${kind} at offset ${offset} is never closed`,
    { hint: "close the quote, or escape the character with a backslash" },
  );
}

/**
 * Split a command line into argv the way a POSIX shell splits words, without expansions:
 * blanks separate words; `'...'` is literal; inside `"..."` a backslash escapes only `"`, `\`,
 * `$`, `` ` `` and a newline; elsewhere a backslash escapes any character; backslash-newline joins
 * lines. `''` and `""` give an empty word.
 *
 * @throws {HoopError} `invalid_argument` on an unterminated quote or a trailing backslash.
 */
export function splitCommandLine(text: string): string[] {
  const words: string[] = [];
  let word = "";
  // A word exists once any character or quote of it was seen, so `''` yields "".
  let inWord = false;
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === " " || c === "\t" || c === "\n") {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
      i++;
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw unterminated("single quote", i);
      word += text.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      const start = i;
      i++;
      for (;;) {
        if (i >= text.length) throw unterminated("double quote", start);
        const d = text[i];
        if (d === '"') break;
        if (d === "\\" && i + 1 < text.length && '"\\$`\n'.includes(text[i + 1])) {
          if (text[i + 1] !== "\n") word += text[i + 1];
          i += 2;
        } else {
          word += d;
          i++;
        }
      }
      inWord = true;
      i++;
    } else if (c === "\\") {
      if (i + 1 >= text.length) {
        throw invalidArgument(
          `Cannot split command line: the backslash at offset ${i} escapes nothing`,
          { hint: "remove it, or write \\\\ for a literal backslash" },
        );
      }
      if (text[i + 1] !== "\n") {
        word += text[i + 1];
        inWord = true;
      }
      i += 2;
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}
