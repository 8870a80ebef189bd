import { defineStore } from "pinia";
import { ref } from "vue";
import { api } from "../api";
import type { Page, InboxItem } from "../types";

/** How many federation notifications are unread, for the sidebar; asked again after each navigation (at most
 * every 30 s) and every two minutes while the app is open. */
export const useNotifications = defineStore("notifications", () => {
  const unread = ref(0);
  let asked = 0;
  let timer: number | undefined;

  async function refresh(force = false) {
    if (!force && Date.now() - asked < 30_000) return;
    asked = Date.now();
    try {
      const page = await api.get<Page<InboxItem>>("federation/inbox/", { is_read: false, page_size: 1 });
      unread.value = page.count;
    } catch {
      // The count is a hint: a failure leaves the last one, the notifications screen shows the error itself.
    }
  }

  function start() {
    window.clearInterval(timer);
    timer = window.setInterval(() => void refresh(true), 120_000);
    void refresh(true);
  }

  function stop() {
    window.clearInterval(timer);
    timer = undefined;
    unread.value = 0;
    asked = 0;
  }

  return { unread, refresh, start, stop };
});
