/**
 * Console replay in its own chunk with asciinema-player: the session's
 * `.cast` from the API, at the size it was recorded.
 *
 * @module
 */
import * as AsciinemaPlayer from "asciinema-player";

/** Play `castUrl` in `el`; resolves with the function that removes the player. */
export function playCast(el: HTMLElement, castUrl: string): Promise<() => void> {
  const player = AsciinemaPlayer.create(castUrl, el, {
    fit: "width",
    autoPlay: true,
    idleTimeLimit: 2,
  });
  return Promise.resolve(() => player.dispose());
}
