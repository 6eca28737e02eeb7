/**
 * Credentials a driver may ask its caller for (libvirt's virConnectAuth): shared by the public
 * API, which takes the callback, and the drivers that log in (esx://, vpx://).
 */

/**
 * libvirt's virConnectCredentialType (libvirt-host.h, which the enum generator does not read):
 * what a driver asks a credentials callback for.
 */
export const ConnectCredentialType = {
  USERNAME: 1,
  AUTHNAME: 2,
  PASSPHRASE: 5,
  ECHOPROMPT: 6,
  NOECHOPROMPT: 7,
} as const;

/** One credential a driver asks for (libvirt's virConnectCredential); the callback sets `result`. */
export interface ConnectCredential {
  /** A {@link ConnectCredentialType} value. */
  type: number;
  prompt: string;
  challenge?: string;
  /** The value used when the callback leaves `result` unset (e.g. the default user name). */
  defresult?: string;
  result?: string;
}

/**
 * libvirt's virConnectAuth callback: fill in `result` of each credential; return false (or
 * throw) to refuse. Asked only when the URI and libvirt's auth file do not give the credential.
 */
export type ConnectAuthCallback = (credentials: ConnectCredential[]) => boolean | void | Promise<boolean | void>;
