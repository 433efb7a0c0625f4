import type { ReactNode } from "react";

/**
 * A table's box, which scrolls sideways when the table is wider than the screen: focusable and
 * named, so that keyboard users can scroll it too (WCAG 2.1.1; axe scrollable-region-focusable).
 */
export function ScrollBox({
  label,
  className,
  children,
}: {
  label: string;
  className?: string;
  children: ReactNode;
}) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must take focus to be scrolled by keyboard.
    <section className={`table-wrap ${className ?? ""}`} tabIndex={0} aria-label={label}>
      {children}
    </section>
  );
}
