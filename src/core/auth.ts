/**
 * Credentials a driver may ask its caller for (libvirt's virConnectAuth): shared by the public
 * API, which takes the callback, and the drivers that log in (esx://, vpx://).
 */

/**
 * libvirt's virConnectCredentialType (libvirt-host.h, which the enum generator does not read):
 * what a driver asks a credentials callback for.
 * @enum
 */
export const ConnectCredentialType = {
  /** The user name to act as (VIR_CRED_USERNAME). */
  USERNAME: 1,
  /** The user name to log in with (VIR_CRED_AUTHNAME); the ESX driver asks this one. */
  AUTHNAME: 2,
  /** A secret such as a password (VIR_CRED_PASSPHRASE); the ESX driver asks the password so. */
  PASSPHRASE: 5,
  /** An answer to a challenge, shown as typed (VIR_CRED_ECHOPROMPT). */
  ECHOPROMPT: 6,
  /** An answer to a challenge, hidden as typed (VIR_CRED_NOECHOPROMPT). */
  NOECHOPROMPT: 7,
} as const;

/** One credential a driver asks for (libvirt's virConnectCredential); the callback sets `result`. */
export interface ConnectCredential {
  /** A {@link ConnectCredentialType} value. */
  type: number;
  /** The text to show the user, e.g. "Enter username for host". */
  prompt: string;
  /** Extra information for the user (libvirt's challenge), when the driver gives one. */
  challenge?: string;
  /** The value used when the callback leaves `result` unset (e.g. the default user name). */
  defresult?: string;
  /** The answer; the callback sets it. */
  result?: string;
}

/**
 * libvirt's virConnectAuth callback: fill in `result` of each credential; return false (or
 * throw) to refuse. Asked only when the URI and libvirt's auth file do not give the credential.
 */
export type ConnectAuthCallback = (credentials: ConnectCredential[]) => boolean | void | Promise<boolean | void>;
