import { useEffect, useState } from "react";

const read = () =>
  window.location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);

/** Hash routes (#/connections/abc/query): the server serves one page, links stay shareable. */
export function useRoute(): string[] {
  const [parts, setParts] = useState(read);
  useEffect(() => {
    const on = () => setParts(read());
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return parts;
}

export function go(path: string): void {
  window.location.hash = `#/${path.replace(/^\//, "")}`;
}

export const href = (path: string) => `#/${path.replace(/^\//, "")}`;
