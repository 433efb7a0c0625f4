/** An error said once, where a screen reader announces it; nothing when there is none. */
export function Alert({ message }: { message: string }) {
  return message ? (
    <p className="error" role="alert">
      {message}
    </p>
  ) : null;
}
