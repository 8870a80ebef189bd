// Answers to follow requests of my libraries (from the library's followers list or from a notification).
import { api } from "./api";

/** Approve or reject a follow of one of my libraries; a rejected follow loses access to the library. */
export async function decideFollow(uuid: string, approve: boolean): Promise<void> {
  await api.post(`federation/follows/library/${uuid}/${approve ? "accept" : "reject"}/`);
}
