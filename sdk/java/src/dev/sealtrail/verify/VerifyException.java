package dev.sealtrail.verify;

/** A check failed: {@link #code} is stable (root_mismatch, bad_signature, malformed, ...). */
public final class VerifyException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  /** The reason, as a stable code. */
  public final String code;

  /** A failure with a stable {@code code} and a got-versus-want message. */
  public VerifyException(String code, String message) {
    super(message);
    this.code = code;
  }
}
