import { defineStore } from "pinia";
import { computed, ref } from "vue";
import { ApiError, api, request } from "../api";
import type { Me } from "../types";

interface NodeInfo {
  openRegistrations: boolean;
  usage: { users: { total?: number } };
  metadata: { nodeName?: string };
}

/** Who is logged in, and what the instance allows (sign-up open, no account yet = first run). */
export const useAuth = defineStore("auth", () => {
  const me = ref<Me | null>(null);
  const ready = ref(false);
  const userCount = ref<number | null>(null);
  const openRegistrations = ref(false);
  const instanceName = ref("Funkwhale");

  const loggedIn = computed(() => me.value !== null);
  const firstRun = computed(() => userCount.value === 0);
  const canSignUp = computed(() => openRegistrations.value || firstRun.value);

  async function loadInstance() {
    try {
      const info = await request<NodeInfo>("instance/nodeinfo/2.0/");
      userCount.value = info.usage?.users?.total ?? null;
      openRegistrations.value = info.openRegistrations;
      instanceName.value = info.metadata?.nodeName || "Funkwhale";
    } catch {
      userCount.value = null; // nodeinfo switched off: no first-run screen, the login form stays available
    }
  }

  async function loadMe() {
    try {
      me.value = await api.get<Me>("users/me/");
    } catch (error) {
      if (!(error instanceof ApiError) || (error.status !== 401 && error.status !== 403)) throw error;
      me.value = null;
    }
  }

  /** First call at start: both questions at once; a failure leaves the app usable (login screen). */
  async function init() {
    await Promise.allSettled([loadInstance(), loadMe()]);
    ready.value = true;
  }

  async function login(username: string, password: string) {
    await request("users/login/", { form: { username, password } });
    await loadMe();
  }

  async function signUp(username: string, email: string, password: string) {
    await api.post("auth/registration/", { username, email, password1: password, password2: password });
    userCount.value = (userCount.value ?? 0) + 1;
    await login(username, password);
  }

  async function logout() {
    try {
      await api.post("users/logout/");
    } finally {
      me.value = null;
    }
  }

  return {
    me, ready, userCount, openRegistrations, instanceName, loggedIn, firstRun, canSignUp,
    init, loadMe, loadInstance, login, signUp, logout,
  };
});
